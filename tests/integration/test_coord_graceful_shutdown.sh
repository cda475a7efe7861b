#!/usr/bin/env bash
# SIGTERM to the coordinator while a step runs: the running step is allowed to finish (within
# ACMS_SHUTDOWN_TIMEOUT_MS) and its record is written; no new step starts; the run stays active
# and its lease is handed back. A coordinator started later resumes the run from Redis without
# rerunning the finished step, and applies a runtime override stored for the pending step
# (override_memory_mb, what an AdaptedEvent writes) to that step's first attempt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-coordstop-XXXXXX)"
trap stack_stop EXIT
stack_start_all

work=$STACK_DIR/pipeline
mkdir -p "$work"
touch_file=$STACK_SHARED/attempts.txt
cat >"$work/two.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: coord-shutdown, labels: {team: it}}
spec:
  steps:
    - name: first
      type: processing
      command: ["$BIN/acms-stepload", "--sleep-ms", "3000", "--touch", "$touch_file"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/first
      tags: {cost-center: cc-1}
    - name: second
      type: processing
      depends_on: [first]
      # 300 MiB on a 256 MiB type: succeeds only because of the override below
      command: ["$BIN/acms-stepload", "--mem-mb", "300", "--touch", "$touch_file"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/second
      tags: {cost-center: cc-1}
YAML

out=$("$BIN/acmsctl" submit "$work/two.yaml" --env dev --format json)
run=$(json_get "$out" run_id)
echo "run $run"
wait_for 60 "[ \"\$(stack_redis_cli HGET acms:run:$run:step:first status)\" = running ]" "first running"
# what the coordinator's AdaptedEvent handler stores for a step's next attempt
stack_redis_cli HSET "acms:run:$run:step:second" override_memory_mb 640 >/dev/null

stack_stop_service coordinator 0 TERM
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:first" status)" succeeded "the running step finished during shutdown"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:second" status)" pending "nothing new started"
assert_eq "$(stack_redis_cli HGET "acms:run:$run" status)" running "the run is still running"
assert_eq "$(stack_redis_cli SISMEMBER acms:runs:active "$run")" 1 "the run stays active"
assert_eq "$(stack_redis_cli EXISTS "acms:lease:$run")" 0 "the lease was handed back"

stack_start_service coordinator 0
out=$("$BIN/acmsctl" watch "$run" --timeout 90 --format json) || true
assert_eq "$(stack_redis_cli HGET "acms:run:$run" status)" succeeded "resumed run succeeded"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:first" attempt)" 1 "first not rerun"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:second" attempt)" 1 "second succeeded on its first attempt"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:second" memory_mb)" 640 "the override was applied"
assert_eq "$(stack_redis_cli HEXISTS "acms:run:$run:step:second" override_memory_mb)" 0 "and consumed"
assert_eq "$(wc -l <"$touch_file" | tr -d ' ')" 2 "two attempts started in all"
wait_for 10 "[ \$(topic_count_key acms.exec.results $run) -eq 1 ]" "exactly one execution result"
echo "coordinator shutdown: running work finished and recorded, the run resumed elsewhere later"
