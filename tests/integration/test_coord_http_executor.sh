#!/usr/bin/env bash
# The http executor end to end: an environment whose executor is http hands every step to
# tests/lib/http_worker.py. A step the worker kills for memory is retried on the next instance
# size; a dependent step gets its secret (resolved by the coordinator, sent to the worker only);
# the run succeeds and the secret appears in no topic, Redis key or log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-coordhttp-XXXXXX)"
worker_pid=""
cleanup() {
  [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
  stack_stop
}
trap cleanup EXIT

"$STACK_PY" "$REPO/tests/lib/http_worker.py" --work-dir "$STACK_DIR/worker" \
  >"$STACK_DIR/worker.port" 2>"$STACK_DIR/http-worker.log" &
worker_pid=$!
wait_for 10 "[ -s $STACK_DIR/worker.port ]" "http worker listening"
port=$(head -1 "$STACK_DIR/worker.port")

# a configuration directory with one more environment: dev, executed over http
export ACMS_CONFIG_DIR=$STACK_DIR/config
cp -r "$REPO/examples" "$ACMS_CONFIG_DIR"
sed -e 's/^metadata: {name: dev}/metadata: {name: devhttp}/' \
    -e "s|^  executor: local|  executor: http\n  worker_url: http://127.0.0.1:$port|" \
    "$REPO/examples/environments/dev.yaml" >"$ACMS_CONFIG_DIR/environments/devhttp.yaml"
grep -q "worker_url: http://127.0.0.1:$port" "$ACMS_CONFIG_DIR/environments/devhttp.yaml"

export DEV_HTTP_IT_TOKEN="tok-$RANDOM-$RANDOM-$$"
stack_start_all

work=$STACK_DIR/pipeline
mkdir -p "$work"
cat >"$work/http.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: coord-http, labels: {team: it}}
spec:
  steps:
    - name: hog
      type: processing
      command: ["$BIN/acms-stepload", "--mem-mb", "300", "--sleep-ms", "300"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/hog
      tags: {cost-center: cc-1}
    - name: use-secret
      type: processing
      depends_on: [hog]
      command: ["$BIN/acms-stepload", "--fail-if-env-missing", "TOKEN", "--touch", "$work/ran.txt"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/secret
      env: {TOKEN: "secret://env/DEV_HTTP_IT_TOKEN"}
      tags: {cost-center: cc-1}
YAML

out=$("$BIN/acmsctl" submit "$work/http.yaml" --env devhttp --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
echo "run $run"
assert_eq "$(stack_redis_cli HGET "acms:run:$run" status)" succeeded "run succeeded over http"
attempts=$(stack_redis_cli HGET "acms:run:$run:step:hog" attempts)
echo "hog attempts: $attempts"
assert_eq "$(json_get "$attempts" 0.reason)" MEMORY "the worker's memory kill is classified MEMORY"
assert_eq "$(json_get "$attempts" 1.reason)" OK "retried with more memory"
assert_eq "$(json_get "$attempts" 1.memory_mb)" 512 "next size of the family"
assert_true "[ -n \"\$(stack_redis_cli HGET acms:run:$run:step:hog worker_id)\" ]" "worker id recorded"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:use-secret" status)" succeeded "secret reached the step"
assert_eq "$(grep -c -x "$run use-secret 1" "$work/ran.txt")" 1 "the step ran once"
assert_true "[ \$(grep -c 'POST /steps' $STACK_DIR/http-worker.log) -eq 3 ]" "three attempts handed to the worker"
assert_no_secret "$DEV_HTTP_IT_TOKEN"
echo "coordinator http executor: steps on a worker, memory recovery, secret delivered only there"
