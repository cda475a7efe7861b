#!/usr/bin/env bash
# The coordinator on the real stack: a step killed by its time limit succeeds on a retry with a
# longer limit, and independent steps of one run overlap in time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
stack_init "$(mktemp -d /tmp/acms-lim-XXXXXX)"
trap stack_stop EXIT
stack_start_all

cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: limits-and-fanout, labels: {owner: ci}}
spec:
  max_parallel: 2
  steps:
    - name: slow
      type: processing
      command: ["$BIN/acms-stepload", "--sleep-ms", "2500", "--touch", "$STACK_SHARED/touch"]
      instance_type: ml.m5.large
      max_runtime_s: 2
      max_attempts: 3
      output_path: s3://acme-ml/it/slow
      tags: {cost-center: cc-1}
    - name: left
      type: processing
      depends_on: [slow]
      command: ["$BIN/acms-stepload", "--sleep-ms", "1500"]
      instance_type: ml.m5.large
      max_runtime_s: 30
      output_path: s3://acme-ml/it/left
      tags: {cost-center: cc-1}
    - name: right
      type: processing
      depends_on: [slow]
      command: ["$BIN/acms-stepload", "--sleep-ms", "1500"]
      instance_type: ml.m5.large
      max_runtime_s: 30
      output_path: s3://acme-ml/it/right
      tags: {cost-center: cc-1}
YAML
out=$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env dev --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run succeeded"
step() { stack_redis_cli HGET "acms:run:$run:step:$1" "$2"; }
attempts=$(step slow attempts)
assert_eq "$(step slow attempt)" 2 "slow needed two attempts"
assert_eq "$(json_get "$attempts" 0.reason)" TIME "attempt 1 killed by its time limit"
assert_true "[ $(json_get "$attempts" 1.max_runtime_s) -gt 2 ]" "attempt 2 ran with a longer limit ($(json_get "$attempts" 1.max_runtime_s) s)"
assert_eq "$(json_get "$attempts" 1.reason)" OK "attempt 2 succeeded"
assert_eq "$(grep -c "$run slow" "$STACK_SHARED/touch")" 2 "exactly two attempts started"
ls=$(step left started_ms); lf=$(step left finished_ms); rs=$(step right started_ms); rf=$(step right finished_ms)
assert_true "[ $ls -lt $rf ] && [ $rs -lt $lf ]" "independent steps overlap in time (left $ls..$lf, right $rs..$rf)"
echo "coordinator: time-limit retry with a longer limit; independent steps overlapped"
