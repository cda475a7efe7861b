#!/usr/bin/env bash
# One pipeline run end to end on the real stack: redis-server, acms-devbroker and the five services
# as processes. Asserts the terminal state in Redis, the events on every topic of the path, the
# monitoring session and the feedback record, and that a secret reaches the step only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-e2e-XXXXXX)"
trap stack_stop EXIT
export DEV_E2E_DB_PASSWORD="pw-$RANDOM-$RANDOM-$$"   # resolved by the coordinator at exec time only
stack_start_all

work=$STACK_DIR/pipeline
mkdir -p "$work"
cat >"$work/nightly.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata:
  name: nightly-features
  labels: {team: data, owner: ci}
spec:
  steps:
    - name: extract
      type: processing
      command: ["sh", "-c", "echo rows=100 > extract.out"]
      instance_type: ml.m5.xlarge
      max_runtime_s: 30
      output_path: s3://acme-ml/nightly/extract
      tags: {cost-center: cc-1}
    - name: transform
      type: transform
      depends_on: [extract]
      command: ["sh", "-c", "test -n \"\$DB_PASSWORD\" && echo ok > transform.out"]
      instance_type: ml.m5.large
      max_runtime_s: 30
      output_path: s3://acme-ml/nightly/transform
      env: {DB_PASSWORD: "secret://env/DEV_E2E_DB_PASSWORD"}
      tags: {cost-center: cc-1}
    - name: load
      type: processing
      depends_on: [transform]
      command: ["true"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/nightly/load
      tags: {cost-center: cc-1}
YAML

out=$("$BIN/acmsctl" submit "$work/nightly.yaml" --env dev --wait --format json --timeout 120)
echo "$out"
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run status from acmsctl"
assert_eq "$(stack_redis_cli HGET "acms:run:$run" status)" succeeded "run status in Redis"
for s in extract transform load; do
  assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:$s" status)" succeeded "step $s"
done
# DAG order: each step started after its dependency finished
e_fin=$(stack_redis_cli HGET "acms:run:$run:step:extract" finished_ms)
t_start=$(stack_redis_cli HGET "acms:run:$run:step:transform" started_ms)
assert_true "[ $t_start -ge $e_fin ]" "transform started after extract finished"
# at least one adaptation recorded (dev shrinks ml.m5.xlarge)
assert_true "[ $(stack_redis_cli LLEN "acms:run:$run:adaptations") -ge 1 ]" "adaptations recorded"

# acmsctl status reads it back
st=$("$BIN/acmsctl" status "$run" --format json)
assert_eq "$(json_get "$st" status)" succeeded "acmsctl status"
"$BIN/acmsctl" status "$run" >/dev/null
set +e; "$BIN/acmsctl" status no-such-run >/dev/null 2>&1; rc=$?; set -e
assert_eq "$rc" 1 "unknown run exits 1"

# monitor session and feedback record (asynchronous: wait for them)
wait_for 20 "[ \"\$(stack_redis_cli HGET acms:monitor:session:$run status)\" = closed ]" "monitor session closed"
wait_for 20 "[ -n \"\$(stack_redis_cli HGET acms:feedback:run:$run success)\" ]" "feedback outcome recorded"

# events of this run on every topic of the path
for t in acms.config.submitted acms.config.prepared acms.config.validated acms.validation.results \
         acms.exec.steps acms.exec.results acms.feedback.insights; do
  n=$(topic_count_key "$t" "$run")
  assert_true "[ $n -ge 1 ]" "events of the run on $t ($n)"
done
assert_eq "$(topic_count_key acms.exec.results "$run")" 1 "exactly one execution result"

# the secret reached the step (it wrote transform.out only if DB_PASSWORD was set) and nothing else
assert_true "[ -f \"\$(find $STACK_DIR/work -path '*transform*' -name transform.out | head -1)\" ]" "step saw its secret"
assert_no_secret "$DEV_E2E_DB_PASSWORD"
echo "e2e: run $run succeeded; events on every topic; secret only inside the step"
