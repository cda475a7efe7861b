#!/usr/bin/env bash
# Redis goes away for longer than the run lease while a step runs, and comes back (AOF, same data).
# The coordinator keeps the step running and its limits enforced, holds the step's record in its
# write queue, re-acquires the expired lease (nobody else took the run) and finishes the run: the
# step is not killed, not retried, and its record is not lost.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-coordredis-XXXXXX)"
trap stack_stop EXIT
stack_start_all

work=$STACK_DIR/pipeline
mkdir -p "$work"
touch_file=$STACK_SHARED/attempts.txt
cat >"$work/outage.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: coord-redis-outage, labels: {team: it}}
spec:
  steps:
    - name: steady
      type: processing
      command: ["$BIN/acms-stepload", "--sleep-ms", "9000", "--touch", "$touch_file"]
      instance_type: ml.t3.medium
      max_runtime_s: 120
      output_path: s3://acme-ml/it/steady
      tags: {cost-center: cc-1}
    - name: after
      type: processing
      depends_on: [steady]
      command: ["$BIN/acms-stepload", "--touch", "$touch_file"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/after
      tags: {cost-center: cc-1}
YAML

out=$("$BIN/acmsctl" submit "$work/outage.yaml" --env dev --format json)
run=$(json_get "$out" run_id)
echo "run $run"
wait_for 60 "grep -q '$run steady 1' $touch_file 2>/dev/null" "step steady running"
stack_stop_redis TERM
sleep 8   # longer than the 5 s lease
stack_start_redis
out=$("$BIN/acmsctl" watch "$run" --timeout 90 --format json) || true
assert_eq "$(stack_redis_cli HGET "acms:run:$run" status)" succeeded "run succeeded across the outage"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:steady" attempt)" 1 "the running step was neither killed nor retried"
assert_eq "$(json_get "$(stack_redis_cli HGET "acms:run:$run:step:steady" attempts)" 0.reason)" OK "its record survived"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:after" status)" succeeded "the next step ran after Redis returned"
assert_eq "$(wc -l <"$touch_file" | tr -d ' ')" 2 "each attempt started once"
assert_true "grep -q 're-acquired' $STACK_DIR/coordinator-0.log" "the coordinator re-acquired its expired lease"
wait_for 10 "[ \$(topic_count_key acms.exec.results $run) -eq 1 ]" "exactly one execution result"
echo "coordinator redis outage: work kept running, records queued and written once Redis returned"
