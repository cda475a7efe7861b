#!/usr/bin/env bash
# acms-console's JSON API on the real stack (redis-server, acms-devbroker, the five services). The
# console runs with a bearer token and as a Redis user that may only read (an ACL user: a write
# would be refused). A pipeline runs with a failing step (`train` exits 3), a step killed for memory
# (`hungry`, one attempt) and a step skipped behind them; then the API must tell the whole story:
# the run in the list under its filters, its DAG by layer, each step's attempts and causes, the
# adaptation log, the validation verdict, the monitor's alert and the validator's runtime finding
# for the memory kill, the monitoring session, the feedback outcome and the learned recommendation.
# A rejected run carries its issues and ranked suggestions; stored configurations, read from a
# storage service over HTTP (ACMS_CONFIG_STORE, tests/lib/config_server.py), are served with a
# plain-text credential masked in a version and in the diff.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-console-api-XXXXXX)"
srv_pid=""
trap '[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; stack_stop' EXIT
stack_start_all
# stored configurations come from a storage service over HTTP, whose files this test writes
srv_dir=$STACK_DIR/configs
mkdir -p "$srv_dir"
exec 7< <(exec "$STACK_PY" "$REPO/tests/lib/config_server.py" "$srv_dir" 2>"$STACK_DIR/config-server.log")
srv_pid=$!
read -r -t 10 srv_port <&7
assert_true "[ -n '$srv_port' ]" "config_server.py listens"
stack_redis_cli ACL SETUSER acms-console on '>console-pw' '~acms:*' resetchannels -@all +@read +ping +select >/dev/null
assert_eq "$(redis-cli -p "$(cat "$STACK_DIR/redis.port")" --user acms-console --pass console-pw --no-auth-warning \
  SET acms:probe 1 2>&1 | cut -d' ' -f1)" NOPERM "the console's Redis user cannot write"
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
ACMS_CONSOLE_TOKEN=$token ACMS_REDIS_URL="redis://acms-console:console-pw@127.0.0.1:$(cat "$STACK_DIR/redis.port")" \
  ACMS_CONFIG_STORE=http://127.0.0.1:$srv_port stack_start_service console 0
stack_wait_ready 30
base=http://127.0.0.1:$(cat "$STACK_DIR/console-0.port")

api() { curl -fsS -H "Authorization: Bearer $token" "$base/api/$1"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
jq_py() { # json python-expression (d = the document): prints the expression's value
  "$STACK_PY" -c 'import json,sys
d=json.loads(sys.argv[1])
v=eval(sys.argv[2])
print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1" "$2"
}

assert_eq "$(code "$base/api/runs")" 401 "no token: 401"
assert_eq "$(code -H 'Authorization: Bearer nope' "$base/api/runs")" 401 "a wrong token: 401"
assert_eq "$(code "$base/healthz")" 200 "probes need no token"
assert_true "curl -fsS -D - -o /dev/null '$base/' | grep -q \"Content-Security-Policy: default-src 'none'; script-src 'self'\"" \
  "the page is served with a script policy"

work=$STACK_DIR/pipelines
mkdir -p "$work"
pipeline=console-api-$$
cat >"$work/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: $pipeline, labels: {team: it}}
spec:
  steps:
    - {name: prepare, type: processing, command: ["true"], instance_type: ml.t3.medium, output_path: s3://acme-ml/it/prep}
    - name: hungry
      type: processing
      command: ["$BIN/acms-stepload", "--mem-mb", "150", "--cpu-ms", "50"]
      instance_type: ml.t3.medium
      memory_mb: 64
      max_attempts: 1
      depends_on: [prepare]
      output_path: s3://acme-ml/it/hungry
    - name: train
      type: training
      command: ["sh", "-c", "echo 'loss is NaN' >&2; exit 3"]
      instance_type: ml.t3.medium
      depends_on: [prepare]
      output_path: s3://acme-ml/it/model
    - {name: report, type: evaluation, command: ["true"], instance_type: ml.t3.medium, depends_on: [train, hungry]}
YAML
rc=0
out=$("$BIN/acmsctl" submit "$work/p.yaml" --env dev --wait --format json --timeout 120) || rc=$?
assert_eq "$rc" 1 "the run fails"
run=$(json_get "$out" run_id)

# --- the run list and its filters -------------------------------------------------------------
list=$(api "runs?env=dev&status=failed&pipeline=$pipeline")
assert_eq "$(jq_py "$list" '[r["run_id"] for r in d["runs"]]')" "[\"$run\"]" "filtered by env, status and pipeline"
assert_eq "$(jq_py "$(api "runs?env=prod")" 'len(d["runs"])')" 0 "another environment: none"
assert_eq "$(jq_py "$(api "runs?status=succeeded&pipeline=$pipeline")" 'len(d["runs"])')" 0 "another status: none"
assert_eq "$(code -H "Authorization: Bearer $token" "$base/api/runs?limit=100000")" 400 "a limit out of range: 400"

# --- the run ----------------------------------------------------------------------------------
v=$(api "runs/$run")
assert_eq "$(jq_py "$v" 'd["run"]["status"]')" failed "run status"
assert_eq "$(jq_py "$v" '{n["name"]: n["layer"] for n in d["graph"]["nodes"]}')" \
  '{"prepare": 0, "hungry": 1, "train": 1, "report": 2}' "the DAG by layer"
assert_eq "$(jq_py "$v" '{s["name"]: s["status"] for s in d["run"]["steps"]}')" \
  '{"prepare": "succeeded", "hungry": "failed", "train": "failed", "report": "skipped"}' "step statuses"
cause=$(jq_py "$v" '[s for s in d["run"]["steps"] if s["name"]=="train"][0]["attempts"][0]["cause"]')
assert_true 'case "$cause" in *"exited with code 3"*) true ;; *) false ;; esac' "train's attempt and its cause ($cause)"
assert_eq "$(jq_py "$v" '[s for s in d["run"]["steps"] if s["name"]=="hungry"][0]["attempts"][0]["reason"]')" MEMORY \
  "hungry was killed for memory"
assert_true "[ $(jq_py "$v" 'len([a for a in d["run"]["adaptations"] if a["stage"]=="environment" and a.get("reason")])') -gt 0 ]" \
  "the adaptation log, with reasons"
assert_eq "$(jq_py "$v" 'd["validation"]["valid"]')" True "the validation verdict"
assert_true "[ $(jq_py "$v" 'len(d["validation"].get("warnings", []))') -gt 0 ]" "its warnings, with suggestions"
# what the monitor, the validator's runtime level and the feedback service add, once they are done
wait_for 30 "[ \"\$(jq_py \"\$(api runs/$run)\" 'd[\"monitor\"] and d[\"monitor\"][\"status\"]')\" = closed ]" \
  "the monitoring session is closed"
wait_for 30 "jq_py \"\$(api runs/$run)\" '[a[\"name\"] for a in d[\"alerts\"]]' | grep -q StepKilledForMemory" \
  "the monitor's alert for the memory kill"
wait_for 30 "jq_py \"\$(api runs/$run)\" '[i[\"code\"] for f in d[\"findings\"] for i in f[\"result\"].get(\"issues\", [])]' | grep -q RESOURCE_KILLED_MEMORY" \
  "the validator's runtime finding for it"
wait_for 30 "[ \"\$(jq_py \"\$(api runs/$run)\" 'd[\"feedback\"] and d[\"feedback\"][\"success\"]')\" = False ]" \
  "the feedback outcome"
wait_for 30 "[ \"\$(jq_py \"\$(api runs/$run)\" 'int(d[\"recommendations\"].get(\"hungry\", {}).get(\"memory_mb\", 0))')\" -gt 64 ]" \
  "the learned recommendation beside what ran (more memory for hungry)"
assert_eq "$(code -H "Authorization: Bearer $token" "$base/api/runs/no-such-run")" 404 "an unknown run: 404"

# --- a rejected run ----------------------------------------------------------------------------
sed "s/name: $pipeline,/name: Not_Valid,/" "$work/p.yaml" >"$work/bad.yaml"
rc=0
out=$("$BIN/acmsctl" submit "$work/bad.yaml" --env dev --wait --format json --timeout 60) || rc=$?
bad=$(json_get "$out" run_id)
v=$(api "runs/$bad")
assert_eq "$(jq_py "$v" 'd["run"]["status"]')" rejected "the rejected run"
assert_eq "$(jq_py "$v" 'd["validation"].get("valid", False)')" False "its verdict (false: omitted, as proto3 JSON does)"
assert_eq "$(jq_py "$v" 'd["validation"]["issues"][0]["code"]')" BAD_NAME "its issue"
suggestion=$(jq_py "$v" 'd["validation"]["issues"][0]["suggestions"][0]["text"]')
assert_true '[ -n "$suggestion" ]' "a ranked suggestion ($suggestion)"
assert_eq "$(jq_py "$v" 'd["graph"]')" None "no plan: it never reached the coordinator"

# --- stored configurations ---------------------------------------------------------------------
cfg=console-cfg-$$
sed "s/name: $pipeline,/name: $cfg,/" "$work/p.yaml" >"$work/c1.yaml"
sed 's|{name: prepare, type: processing, command: \["true"\],|{name: prepare, type: processing, command: ["true"], env: {API_TOKEN: tok-2b7e151628aed2a6}, |' \
  "$work/c1.yaml" >"$work/c2.yaml"
grep -q tok-2b7e151628aed2a6 "$work/c2.yaml"
# written as files of the storage service: acmsctl config put would refuse version 2's credential
mkdir -p "$srv_dir/$cfg"
cp "$work/c1.yaml" "$srv_dir/$cfg/1.yaml"
cp "$work/c2.yaml" "$srv_dir/$cfg/2.yaml"
assert_eq "$(jq_py "$(api "configs/$cfg")" '[x["version"] for x in d["versions"]]')" "[1, 2]" "the stored versions"
doc=$(api "configs/$cfg/versions/2")
diff=$(api "configs/$cfg/diff?from=1&to=2")
assert_true '! printf "%s%s" "$doc" "$diff" | grep -q 2b7e151628aed2a6' "the plain-text credential is masked"
assert_eq "$(jq_py "$diff" 'd["changed_lines"]')" 2 "the diff of the two versions"
document=$(jq_py "$doc" 'd["document"]')
assert_true 'printf "%s" "$document" | grep -q -F "API_TOKEN: ********"' "masked in place"

# nothing the console answered came from a write: its Redis user cannot write (checked above)
assert_true "! grep -a -q 'NOPERM' '$STACK_DIR/console-0.log'" "the console never tried a command beyond reading"
