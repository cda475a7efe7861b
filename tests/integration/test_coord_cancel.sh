#!/usr/bin/env bash
# Cancelling a running run: the running step's whole process group is stopped (SIGTERM), the step
# that had not started is cancelled without starting, and the run ends "cancelled" within seconds
# with exactly one execution result.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-coordcancel-XXXXXX)"
trap stack_stop EXIT
stack_start_all

work=$STACK_DIR/pipeline
mkdir -p "$work"
pidfile=$STACK_SHARED/child.pid
cat >"$work/long.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: coord-cancel, labels: {team: it}}
spec:
  steps:
    - name: long
      type: processing
      # a shell with a grandchild: both belong to the step's process group
      command: ["sh", "-c", "sleep 300 & echo \$! > $pidfile; wait"]
      instance_type: ml.t3.medium
      max_runtime_s: 600
      output_path: s3://acme-ml/it/long
      tags: {cost-center: cc-1}
    - name: next
      type: processing
      depends_on: [long]
      command: ["true"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/it/next
      tags: {cost-center: cc-1}
YAML

out=$("$BIN/acmsctl" submit "$work/long.yaml" --env dev --format json)
run=$(json_get "$out" run_id)
echo "run $run"
wait_for 60 "[ \"\$(stack_redis_cli HGET acms:run:$run:step:long status)\" = running ] && [ -s $pidfile ]" \
  "step long running"
grandchild=$(cat "$pidfile")
assert_true "kill -0 $grandchild" "the step's grandchild runs"

t0=$(date +%s)
"$BIN/acmsctl" cancel "$run" --wait --timeout 30 >/dev/null
assert_eq "$(stack_redis_cli HGET "acms:run:$run" status)" cancelled "run cancelled"
assert_true "[ $(( $(date +%s) - t0 )) -le 10 ]" "cancelled within 10 s"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:long" status)" cancelled "running step cancelled"
assert_eq "$(json_get "$(stack_redis_cli HGET "acms:run:$run:step:long" attempts)" 0.reason)" CANCELLED \
  "attempt recorded as cancelled"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:long" attempt)" 1 "cancelled attempt not retried"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:next" status)" cancelled "pending step cancelled"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:next" attempt)" 0 "pending step never started"
wait_for 5 "! kill -0 $grandchild 2>/dev/null" "the whole process group is gone"
assert_eq "$(stack_redis_cli SISMEMBER acms:runs:active "$run")" 0 "run left the active set"
wait_for 10 "[ \$(topic_count_key acms.exec.results $run) -eq 1 ]" "exactly one execution result"
echo "coordinator cancel: process group stopped, pending step never started, run cancelled"
