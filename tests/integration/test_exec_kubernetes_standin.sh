#!/usr/bin/env bash
# The kubernetes executor end to end, through the coordinator, against tests/k8s/apiserver.py (the
# strict stand-in API server with its kubelet). test_exec_kubernetes.sh runs the real control plane
# with kwok; this test covers what kwok cannot play (docs/kubernetes.md): the step's command runs as
# a process with its env and secretKeyRefs resolved (its output is the log), a dropped watch and a
# 410 Gone on demand, a server without the metrics API and without pods/resize (an approved
# memory_up then applies to the next attempt), peak memory measured from the process. A pipeline
# whose environment runs on kubernetes:
#   - every attempt is a Pod: instance-type nodeSelector, requests = limits, deadline, labels,
#     hardened securityContext, spot tolerations/affinity for the interruptible step, the run's
#     NetworkPolicy; a resolved secret only in the Pod-owned Secret, secret://k8s/ as secretKeyRef;
#   - OOMKilled -> MEMORY, DeadlineExceeded -> TIME, Evicted -> INTERRUPTED (retried),
#     ErrImagePull -> configuration failure with a suggestion (not retried), exit codes;
#   - the watch survives a dropped connection and a 410 Gone (relists), finished Pods are deleted,
#     `acmsctl logs` shows what a Pod wrote;
# then a coordinator SIGKILLed while a Pod runs (the next one adopts the Pod: one attempt, no
# duplicate), and a cancel (the Pod deleted with its grace period).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-k8s-XXXXXX)"
api_pid=""
API=""
cleanup() {
  [ -n "$api_pid" ] && curl -fsS "$API/_control/state" >"$STACK_DIR/k8s/final-state.json" 2>/dev/null
  if [ -n "$api_pid" ]; then kill "$api_pid" 2>/dev/null; wait "$api_pid" 2>/dev/null || true; fi
  stack_stop
}
trap cleanup EXIT

# --- the API server ---------------------------------------------------------------------------------
k8s=$STACK_DIR/k8s
mkdir -p "$k8s/pods"
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$k8s/token"
# per instance type of the environment: an on-demand node and a tainted spot node
/usr/bin/python3 - >"$k8s/nodes.json" <<'PY'
import json
types = ["ml.t3.medium", "ml.t3.large", "ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge", "ml.r5.large"]
nodes = [{"name": "node-" + t.replace(".", "-"), "labels": {"acms.io/instance-type": t}} for t in types]
nodes += [{"name": "spot-" + t.replace(".", "-"), "labels": {"acms.io/instance-type": t, "karpenter.sh/capacity-type": "spot"},
           "taints": [{"key": "spot", "value": "true"}]} for t in types]
print(json.dumps(nodes))
PY
/usr/bin/python3 "$REPO/tests/k8s/apiserver.py" --port-file "$k8s/port" --token-file "$k8s/token" \
  --nodes "$k8s/nodes.json" --workdir "$k8s/pods" 2>"$STACK_DIR/apiserver.log" &
api_pid=$!
wait_for 20 "[ -s $k8s/port ]" "stand-in API server listening"
API=http://127.0.0.1:$(cat "$k8s/port")
export ACMS_K8S_API=$API ACMS_K8S_TOKEN_FILE=$k8s/token ACMS_K8S_NAMESPACE=acms-steps
export ACMS_K8S_LOG_POLL_S=1 ACMS_K8S_CONFIG_GRACE_S=2 ACMS_LOG_TAIL_KB=16
api() { curl -fsS -H "Authorization: Bearer $(cat "$k8s/token")" "$@"; }
state() { curl -fsS "$API/_control/state"; }
# an existing Secret a step references directly (secret://k8s/<secret>#<key>)
api -X POST -H 'Content-Type: application/json' "$API/api/v1/namespaces/acms-steps/secrets" \
  -d '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"model-registry"},"stringData":{"api-key":"reg-key"}}' >/dev/null

# --- an environment that runs on kubernetes -------------------------------------------------------
export ACMS_CONFIG_DIR=$STACK_DIR/config
cp -r "$REPO/examples" "$ACMS_CONFIG_DIR"
sed -e 's/^metadata: {name: dev}/metadata: {name: k8sit}/' -e 's/^  executor: local/  executor: kubernetes/' \
    -e 's/^  require_network_isolation: false/  require_network_isolation: true/' \
    "$REPO/examples/environments/dev.yaml" >"$ACMS_CONFIG_DIR/environments/k8sit.yaml"
cat >>"$ACMS_CONFIG_DIR/environments/k8sit.yaml" <<'YAML'
  kubernetes:
    default_image: registry.example.com/acms/step:1
    service_account: acms-step
    instance_type_label: acms.io/instance-type
    spot_node_labels: {karpenter.sh/capacity-type: spot}
    spot_tolerations: [{key: spot, value: "true"}]
    egress_allow: ["10.20.0.0/16:443"]
    pod_ttl_s: 0
    termination_grace_s: 5
YAML
# the Secret the pipeline names, and the variable it resolves, inside the environment's scopes
sed -i 's|^  secret_scopes:$|  secret_scopes:\n    - "secret://k8s/model-registry"|' "$ACMS_CONFIG_DIR/environments/k8sit.yaml"
assert_true "grep -q secret://k8s/model-registry $ACMS_CONFIG_DIR/environments/k8sit.yaml" "k8sit: the Secret's scope added"
export DEV_K8S_IT_SECRET="k8s-it-$RANDOM-$RANDOM-$$"
stack_start_all

work=$STACK_DIR/pipeline
mkdir -p "$work"
cat >"$work/k8s.yaml" <<'YAML'
apiVersion: acms/v1
kind: Pipeline
metadata: {name: k8s-it, labels: {team: it}}
spec:
  max_parallel: 4
  steps:
    - name: extract
      type: processing
      command: ["sh", "-c", "echo extracting; test -n \"$DB_PASSWORD\" && echo db-credentials-present; test \"$API_KEY\" = reg-key && echo registry-key-present; echo to-stderr >&2; sleep 2"]
      instance_type: ml.m5.large
      volume_size_gb: 30
      max_runtime_s: 60
      output_path: s3://acme-ml/it/raw
      env: {DB_PASSWORD: "secret://env/DEV_K8S_IT_SECRET", API_KEY: "secret://k8s/model-registry#api-key"}
      tags: {cost-center: cc-1}
    - name: train
      type: training
      depends_on: [extract]
      interruptible: true
      command: ["sh", "-c", "echo training on spot; exit 0"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/model
      tags: {cost-center: cc-1}
    - name: oom
      type: processing
      optional: true
      max_attempts: 1
      image: registry.example.com/acms/oom
      command: ["run"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/oom
      tags: {cost-center: cc-1}
    - name: evicted
      type: processing
      optional: true
      max_attempts: 2
      image: registry.example.com/acms/evict
      command: ["run"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/evict
      tags: {cost-center: cc-1}
    - name: slow
      type: processing
      optional: true
      max_attempts: 1
      command: ["sleep", "30"]
      instance_type: ml.t3.medium
      max_runtime_s: 1
      output_path: s3://acme-ml/it/slow
      tags: {cost-center: cc-1}
    - name: badimage
      type: processing
      optional: true
      max_attempts: 3
      image: registry.example.com/acms/pull-error
      command: ["run"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/bad
      tags: {cost-center: cc-1}
    - name: exits3
      type: processing
      optional: true
      max_attempts: 1
      command: ["sh", "-c", "echo failing; exit 3"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      output_path: s3://acme-ml/it/exit
      tags: {cost-center: cc-1}
YAML

"$BIN/acmsctl" submit "$work/k8s.yaml" --env k8sit --format json >"$work/submit.json"
run=$(json_get "$(cat "$work/submit.json")" run_id)
echo "run $run"
# while extract runs: drop every watch, then compact (the next watch from an older resourceVersion
# gets 410 Gone): the coordinator relists both times and misses nothing
wait_for 60 "state | grep -q '\"phase\": \"Running\"'" "a Pod running"
lists0=$(json_get "$(state)" lists)
curl -fsS -X POST "$API/_control/drop-watches" >/dev/null
wait_for 30 "[ \$(json_get \"\$(state)\" lists) -gt $lists0 ]" "relist after the dropped watch"
lists1=$(json_get "$(state)" lists)
curl -fsS -X POST "$API/_control/compact" >/dev/null
curl -fsS -X POST "$API/_control/drop-watches" >/dev/null
wait_for 30 "[ \$(json_get \"\$(state)\" lists) -gt $lists1 ]" "relist after 410 Gone"
out=$("$BIN/acmsctl" watch "$run" --timeout 180 --format json || true)
st=$(stack_redis_cli HGET "acms:run:$run" status)
echo "run status: $st"
step() { stack_redis_cli HGET "acms:run:$run:step:$1" "$2"; }
attempts() { stack_redis_cli HGET "acms:run:$run:step:$1" attempts; }
attempts_of() { stack_redis_cli HGET "acms:run:$1:step:$2" attempts; }
assert_eq "$(step extract status)" succeeded "extract succeeded in a Pod"
assert_eq "$(step train status)" succeeded "the interruptible step ran on the spot node"
assert_eq "$(json_get "$(attempts oom)" 0.reason)" MEMORY "OOMKilled -> MEMORY"
assert_eq "$(json_get "$(attempts oom)" 0.exit_code)" 137 "the OOM kill's exit code"
assert_eq "$(json_get "$(attempts evicted)" 0.reason)" INTERRUPTED "Evicted -> INTERRUPTED"
assert_eq "$(json_get "$(attempts evicted)" 1.reason)" INTERRUPTED "an interruption is retried"
assert_eq "$(json_get "$(attempts slow)" 0.reason)" TIME "DeadlineExceeded -> TIME"
assert_eq "$(json_get "$(attempts badimage)" 0.reason)" SPAWN_FAILED "ErrImagePull -> configuration failure"
assert_eq "$(step badimage attempt)" 1 "a configuration failure is not retried"
assert_true "step badimage suggestion | grep -q \"check the step's image\"" "with a suggestion"
assert_eq "$(json_get "$(attempts exits3)" 0.exit_code)" 3 "exit code reported"
assert_eq "$(json_get "$(attempts exits3)" 0.reason)" NONZERO "non-zero exit -> NONZERO"
assert_true "step extract message | grep -q 'peak memory not measured'" "no metrics API: the run says so"
# logs through acmsctl (the Pod's log endpoint, kept in Redis)
"$BIN/acmsctl" logs "$run" extract >"$work/extract.log"
assert_true "grep -q extracting $work/extract.log && grep -q db-credentials-present $work/extract.log" "acmsctl logs shows the Pod's output"
assert_true "grep -q registry-key-present $work/extract.log" "secret://k8s/ reached the container"
assert_true "grep -q to-stderr $work/extract.log" "stderr is part of a Pod's log"
"$BIN/acmsctl" logs "$run" evicted --attempt 1 >/dev/null
assert_eq "$(set +e; "$BIN/acmsctl" logs "$run" nosuchstep >/dev/null 2>&1; echo $?)" 1 "unknown step: exit 1"
# the objects the API server accepted
s=$(state)
python3_check() { /usr/bin/python3 - "$@"; }
echo "$s" >"$work/state.json"
python3_check "$work/state.json" "$run" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
assert st["rejected"] == 0, "the API server rejected %d object(s)" % st["rejected"]
assert st["pods"] == [], "finished Pods are deleted: %s" % [p["metadata"]["name"] for p in st["pods"]]
assert st["secrets"] == ["model-registry"], "ephemeral Secrets deleted with their Pods: %s" % st["secrets"]
assert st["networkpolicies"] == [], "the run's NetworkPolicy is deleted at its end"
assert st["created"]["networkpolicies"] >= 1 and st["created"]["secrets"] >= 2
print("stand-in: %d pods created, %d deleted, %d lists, %d watches" % (
    st["created"]["pods"], st["deleted"]["pods"], st["lists"], st["watches"]))
PY
assert_true "grep -q 'POST /api/v1/namespaces/acms-steps/pods?fieldValidation=Strict' $STACK_DIR/apiserver.log" \
  "Pods are created with strict field validation"
assert_no_secret "$DEV_K8S_IT_SECRET"

# from here on the stand-in serves metrics.k8s.io (the restarted coordinator probes it afresh)
curl -fsS -X POST "$API/_control/metrics-api" >/dev/null

# --- a coordinator restart while a Pod runs: adopted, not run twice -----------------------------
cat >"$work/restart.yaml" <<'YAML'
apiVersion: acms/v1
kind: Pipeline
metadata: {name: k8s-restart}
spec:
  steps:
    - name: long
      type: processing
      command: ["sh", "-c", "echo started; sleep 8; echo finished"]
      instance_type: ml.t3.medium
      max_runtime_s: 120
      output_path: s3://acme-ml/it/long
      tags: {cost-center: cc-1}
YAML
created0=$(json_get "$(state)" created.pods)
run2=$(json_get "$("$BIN/acmsctl" submit "$work/restart.yaml" --env k8sit --format json)" run_id)
wait_for 60 "state | grep -q '\"phase\": \"Running\"'" "the long Pod running"
/usr/bin/python3 - "$(state)" >"$work/pod.json" <<'PY'
import json, sys
print(json.dumps([p for p in json.loads(sys.argv[1])["pods"] if p["status"].get("phase") == "Running"][0]))
PY
stack_stop_service coordinator 0 KILL
stack_start_service coordinator 0
out2=$("$BIN/acmsctl" watch "$run2" --timeout 120 --format json || true)
assert_eq "$(stack_redis_cli HGET "acms:run:$run2" status)" succeeded "the run finished after the restart"
assert_eq "$(stack_redis_cli HGET "acms:run:$run2:step:long" attempt)" 1 "the running Pod was adopted: one attempt"
assert_eq "$(( $(json_get "$(state)" created.pods) - created0 ))" 1 "no duplicate Pod"
"$BIN/acmsctl" logs "$run2" long >"$work/long.log"
assert_true "grep -q finished $work/long.log" "the adopted Pod's log was read"
grep -q "adopted" "$STACK_DIR"/coordinator-0.log

# the Pod spec the coordinator made (fields of docs/kubernetes.md)
/usr/bin/python3 - "$work/pod.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
m, s = p["metadata"], p["spec"]
c = s["containers"][0]
assert set(m["labels"]) >= {"acms.io/run", "acms.io/step", "acms.io/attempt"}, m["labels"]
assert m["labels"]["acms.io/attempt"] == "1"
assert s["restartPolicy"] == "Never" and s["activeDeadlineSeconds"] == 120
assert s["nodeSelector"] == {"acms.io/instance-type": "ml.t3.medium"}, s["nodeSelector"]
assert s["serviceAccountName"] == "acms-step" and s["automountServiceAccountToken"] is False
assert s["securityContext"]["runAsNonRoot"] is True and s["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
sc = c["securityContext"]
assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
assert c["resources"]["requests"] == c["resources"]["limits"], c["resources"]
assert c["image"] == "registry.example.com/acms/step:1"
assert c["command"] == ["sh"] and c["args"][0] == "-c"
assert m["labels"].get("acms.io/isolated") == "true"
print("pod fields ok:", json.dumps({"nodeSelector": s["nodeSelector"], "resources": c["resources"]}))
PY

# --- an approved memory_up where the server has no pods/resize: it applies to the next attempt ----
cat >"$work/hungry.yaml" <<'YAML'
apiVersion: acms/v1
kind: Pipeline
metadata: {name: k8s-hungry}
spec:
  steps:
    - name: hungry
      type: processing
      command: ["python3", "-c", "import time; b = b'x' * (236 << 20); print('allocated', flush=True); time.sleep(25)"]
      instance_type: ml.t3.medium
      max_runtime_s: 120
      output_path: s3://acme-ml/it/hungry
      tags: {cost-center: cc-1}
YAML
run5=$(json_get "$("$BIN/acmsctl" submit "$work/hungry.yaml" --env k8sit --format json)" run_id)
wait_for 90 "stack_redis_cli LRANGE acms:run:$run5:adaptations 0 -1 | grep -q 'applies to the next attempt'" \
  "memory_up at 92% of 256 MiB (metrics.k8s.io): no pods/resize here, it applies to the next attempt"
assert_true "[ \$(stack_redis_cli HGET acms:run:$run5:step:hungry override_memory_mb) -gt 256 ]" \
  "the next attempt's memory is stored"
"$BIN/acmsctl" watch "$run5" --timeout 120 --format json >/dev/null || true
assert_eq "$(stack_redis_cli HGET "acms:run:$run5" status)" succeeded "hungry succeeded"
assert_true "[ \$(json_get \"\$(attempts_of $run5 hungry)\" 0.peak_rss_kb) -ge $((200 * 1024)) ]" \
  "its peak memory measured from the metrics API (the process's resident memory)"

# --- cancel: the running Pod is deleted with its grace period ---------------------------------------
cat >"$work/cancel.yaml" <<'YAML'
apiVersion: acms/v1
kind: Pipeline
metadata: {name: k8s-cancel}
spec:
  steps:
    - name: forever
      type: processing
      image: registry.example.com/acms/step:hang
      command: ["serve"]
      instance_type: ml.t3.medium
      max_runtime_s: 600
      output_path: s3://acme-ml/it/forever
      tags: {cost-center: cc-1}
YAML
run3=$(json_get "$("$BIN/acmsctl" submit "$work/cancel.yaml" --env k8sit --format json)" run_id)
wait_for 60 "state | grep -q '\"phase\": \"Running\"'" "the forever Pod running"
"$BIN/acmsctl" cancel "$run3" --wait --timeout 60 >/dev/null || true
assert_eq "$(stack_redis_cli HGET "acms:run:$run3" status)" cancelled "run cancelled"
assert_eq "$(json_get "$(stack_redis_cli HGET "acms:run:$run3:step:forever" attempts)" 0.reason)" CANCELLED "attempt CANCELLED"
assert_true "[ \"\$(json_get \"\$(state)\" last_delete_grace)\" = 5 ]" "Pod deleted with the environment's grace period"
wait_for 30 "[ \"\$(json_get \"\$(state)\" pods)\" = '[]' ]" "every Pod deleted"
stack_sanitizer_check
echo "kubernetes executor: Pods per attempt, causes mapped, watch relists, logs, adoption after restart, cancel"
