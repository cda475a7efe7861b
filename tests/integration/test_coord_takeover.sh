#!/usr/bin/env bash
# Crash recovery across coordinator replicas: the owner of a run is killed (SIGKILL) while a step
# runs; its step process dies with it; once the lease expires the other replica takes the run over
# from Redis, records the interrupted attempt as LOST, runs the next attempt, keeps the finished
# step as it was (never rerun), and the run succeeds with exactly one execution result. Every
# attempt starts exactly once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-coordtake-XXXXXX)"
trap stack_stop EXIT
stack_start_all
stack_start_service coordinator 1
stack_wait_ready

work=$STACK_DIR/pipeline
mkdir -p "$work"
touch_file=$STACK_SHARED/attempts.txt
cat >"$work/slow.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: coord-takeover, labels: {team: it}}
spec:
  steps:
    - name: first
      type: processing
      command: ["$BIN/acms-stepload", "--touch", "$touch_file"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/first
      tags: {cost-center: cc-1}
    - name: slow
      type: processing
      depends_on: [first]
      command: ["$BIN/acms-stepload", "--sleep-ms", "4000", "--touch", "$touch_file"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/slow
      tags: {cost-center: cc-1}
YAML

out=$("$BIN/acmsctl" submit "$work/slow.yaml" --env dev --format json)
run=$(json_get "$out" run_id)
echo "run $run"
wait_for 60 "[ \"\$(stack_redis_cli HGET acms:run:$run:step:slow status)\" = running ] && grep -q 'slow 1' $touch_file" \
  "step slow running (attempt 1)"
owner=$(stack_redis_cli GET "acms:lease:$run")
echo "owner: $owner"
case "$owner" in coordinator-0 | coordinator-1) ;; *) echo "FAIL: unexpected lease owner '$owner'" >&2; exit 1 ;; esac
first_finished=$(stack_redis_cli HGET "acms:run:$run:step:first" finished_ms)
stack_stop_service coordinator "${owner#coordinator-}" KILL

out=$("$BIN/acmsctl" watch "$run" --timeout 90 --format json) || true
assert_eq "$(stack_redis_cli HGET "acms:run:$run" status)" succeeded "run succeeded after the take-over"
new_owner=$(stack_redis_cli HGET "acms:run:$run" owner)
assert_true "[ \"$new_owner\" != \"$owner\" ]" "another replica finished it ($new_owner)"
attempts=$(stack_redis_cli HGET "acms:run:$run:step:slow" attempts)
echo "slow attempts: $attempts"
assert_eq "$(json_get "$attempts" 0.reason)" LOST "the interrupted attempt is recorded as LOST"
assert_eq "$(json_get "$attempts" 1.reason)" OK "the next attempt succeeded"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:slow" attempt)" 2 "two attempts of slow"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:first" attempt)" 1 "the finished step was not rerun"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:first" finished_ms)" "$first_finished" "its record is unchanged"
assert_eq "$(grep -c -x "$run first 1" "$touch_file")" 1 "first attempt 1 started once"
assert_eq "$(grep -c -x "$run slow 1" "$touch_file")" 1 "slow attempt 1 started once"
assert_eq "$(grep -c -x "$run slow 2" "$touch_file")" 1 "slow attempt 2 started once"
assert_eq "$(wc -l <"$touch_file" | tr -d ' ')" 3 "no other attempt started"
wait_for 10 "[ \$(topic_count_key acms.exec.results $run) -eq 1 ]" "exactly one execution result"
assert_eq "$(stack_redis_cli SCARD acms:runs:active)" 0 "no run left active"
echo "coordinator take-over: LOST attempt retried by the surviving replica, finished work kept"
