#!/usr/bin/env bash
# Versioned configurations, submitted by reference, on the real stack. Two versions of a pipeline whose
# step writes its version into a marker file are put into the store (Redis backend: keys, de-duplication,
# get/list/diff); each is submitted by reference (id@1, id@2, and id alone for the latest) and the
# marker, the run hash, `acmsctl status` and the execution result name the version that ran. Missing and
# malformed references are rejected cleanly (exit 1 with the reason; nothing dead-lettered; the adapter
# lives on). Then the adapter reads a storage service over HTTP (tests/lib/config_server.py), including
# a context-specific variant for the environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-cfgstore-XXXXXX)"
srv_pid=""
cleanup() {
  if [ -n "$srv_pid" ]; then kill "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; fi
  stack_stop
}
trap cleanup EXIT
stack_start_all

ctl() { "$BIN/acmsctl" "$@"; }
# event_has TOPIC KEY TEXT: some event of TOPIC keyed KEY holds TEXT (payloads are binary protobuf:
# framed by their lengths, not by lines)
event_has() {
  kcat -b "$ACMS_KAFKA_BROKERS" -C -t "$1" -e -o beginning -q -f '%K %S %k%s' 2>/dev/null | "$STACK_PY" -c '
import sys
data, key, text, i = sys.stdin.buffer.read(), sys.argv[1].encode(), sys.argv[2].encode(), 0
while i < len(data):
    a = data.index(b" ", i); b = data.index(b" ", a + 1)
    kl, pl = int(data[i:a]), int(data[a + 1:b])
    k, p = data[b + 1:b + 1 + kl], data[b + 1 + kl:b + 1 + kl + pl]
    i = b + 1 + kl + pl
    if k == key and text in p:
        sys.exit(0)
sys.exit(1)' "$2" "$3"
}
work=$STACK_DIR/cfg
mkdir -p "$work"
pipeline() { # NAME MARKER -> a pipeline whose one step writes MARKER into ./marker
  cat <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata:
  name: $1
  labels: {team: data, owner: ci}
spec:
  steps:
    - name: mark
      type: processing
      command: ["sh", "-c", "echo $2 > marker"]
      instance_type: ml.m5.large
      max_runtime_s: 30
      output_path: s3://acme-ml/$1/mark
      tags: {cost-center: cc-1}
YAML
}
id=marker-demo
pipeline $id v1 >"$work/v1.yaml"
pipeline $id v2 >"$work/v2.yaml"

# --- the store (Redis backend) ------------------------------------------------------------------
assert_eq "$(ctl config put "$work/v1.yaml" 2>/dev/null)" "$id@1" "first put is version 1"
assert_eq "$(ctl config put "$work/v1.yaml" 2>/dev/null)" "$id@1" "the same content again is the same version"
assert_eq "$(ctl config put "$work/v2.yaml" 2>/dev/null)" "$id@2" "changed content is version 2"
assert_eq "$(ctl config put "$work/v1.yaml" 2>/dev/null)" "$id@1" "old content does not become version 3"
h1=$(sha256sum "$work/v1.yaml" | cut -d' ' -f1)
h2=$(sha256sum "$work/v2.yaml" | cut -d' ' -f1)
assert_eq "$(stack_redis_cli GET "acms:config:$id:latest")" 2 "latest pointer"
assert_eq "$(stack_redis_cli HGET "acms:config:$id:v:1" hash)" "$h1" "version 1 content hash"
assert_eq "$(stack_redis_cli HGET "acms:config:$id:hashes" "$h2")" 2 "hash index"
assert_eq "$(stack_redis_cli SISMEMBER acms:configs "$id")" 1 "id set"
ctl config get "$id@1" >"$work/got1.yaml" 2>/dev/null
assert_true "cmp -s '$work/got1.yaml' '$work/v1.yaml'" "get returns the exact bytes of version 1"
assert_eq "$(json_get "$(ctl config get "$id" --format json)" version)" 2 "get ID is the latest"
set +e; ctl config get "$id@9" >/dev/null 2>"$work/err"; rc=$?; set -e
assert_eq "$rc" 1 "get of a missing version exits 1"
assert_true "grep -q 'no version 9' '$work/err'" "and says which version is missing"
list=$(ctl config list --format json)
assert_eq "$(json_get "$list" 0.id)/$(json_get "$list" 0.latest)" "$id/2" "list shows the id with its latest version"
assert_eq "$(ctl config list "$id" | grep -c "^$id ")" 2 "list ID shows both versions"
diff_out=$(ctl config diff "$id@1" "$id@2")
assert_true "echo \"\$diff_out\" | grep -q -e '^-.*echo v1 > marker'" "diff shows the removed line"
assert_true "echo \"\$diff_out\" | grep -q -e '^+.*echo v2 > marker'" "diff shows the added line"
set +e; ctl config put /dev/null >/dev/null 2>&1; rc=$?; set -e
assert_eq "$rc" 2 "an unusable file is refused with exit 2"

# --- submit by reference ------------------------------------------------------------------------
run_ref() { # REF -> the run's final JSON view
  local out
  out=$(ctl submit --ref "$1" --env dev --wait --format json --timeout 60) || { echo "$out" >&2; return 1; }
  echo "$out"
}
marker_of() { cat "$STACK_DIR/work/$1/mark/attempt-1/marker"; }
for case in "$id@1 v1 $id@1 $h1" "$id@2 v2 $id@2 $h2" "$id v2 $id@2 $h2"; do
  read -r ref want exact hash <<<"$case"
  out=$(run_ref "$ref")
  run=$(json_get "$out" run_id)
  assert_eq "$(json_get "$out" status)" succeeded "run of --ref $ref"
  assert_eq "$(marker_of "$run")" "$want" "--ref $ref ran $want"
  assert_eq "$(stack_redis_cli HGET "acms:run:$run" config_ref)" "$exact" "run hash names $exact"
  assert_eq "$(stack_redis_cli HGET "acms:run:$run" config_hash)" "$hash" "run hash carries the stored hash"
  assert_eq "$(stack_redis_cli HGET "acms:run:$run" pipeline)" "$id" "run hash pipeline is the id"
  assert_true "ctl status '$run' | grep -q 'config     $exact (sha256 ${hash:0:12})'" "acmsctl status shows $exact"
done
last_run=$run
assert_eq "$(json_get "$(ctl status "$last_run" --format json)" config_ref)" "$id@2" "status --format json"
wait_for 20 "event_has acms.exec.results '$last_run' '$id@2'" "the execution result names $id@2"
wait_for 20 "event_has acms.feedback.insights '$last_run' '$id@2'" "the feedback names $id@2"

# learning across versions: history is keyed by (pipeline, step) and restarts when the command changes
cmd_hash() { printf '%s' "2:sh2:-c${#1}:$1" | sha256sum | cut -d' ' -f1; }
wait_for 20 "[ -n \"\$(stack_redis_cli HGET acms:feedback:run:$last_run success)\" ]" "feedback recorded the last run"
stats=acms:feedback:stats:$id:mark
assert_eq "$(stack_redis_cli HGET "$stats" command_hash)" "$(cmd_hash 'echo v2 > marker')" "stats carry the command hash"
assert_eq "$(stack_redis_cli HGET "$stats" runs)" 2 "v2's new command restarted the history (2 runs of v2, not 3)"

# --- missing and malformed references: clean rejections ------------------------------------------
dl_before=$(topic_count acms.deadletter)
for case in "nope@7|no configuration 'nope' is stored" "$id@9|has no version 9 (latest is $id@2)"; do
  ref=${case%%|*} why=${case#*|}
  set +e; out=$(ctl submit --ref "$ref" --env dev --wait --format json --timeout 60); rc=$?; set -e
  echo "$out"
  assert_eq "$rc" 1 "--ref $ref exits 1"
  assert_eq "$(json_get "$out" status)" rejected "--ref $ref is rejected"
  reason=$(json_get "$out" reason)
  assert_true "echo \"\$reason\" | grep -F -q \"reference '$ref' not found\"" "the reason names $ref"
  assert_true "echo \"\$reason\" | grep -F -q \"$why\"" "the reason says why ($why)"
  assert_eq "$(json_get "$out" config_ref)" "$ref" "the run records the reference"
  rej=$(json_get "$out" run_id)
done
human=$(ctl status "$rej")
assert_true "echo \"\$human\" | grep -q \"^reason .*'$id@9' not found\"" "acmsctl status prints the reason"
wait_for 20 "event_has acms.validation.results '$rej' CONFIG_REF_NOT_FOUND" \
  "a CONFIG_REF_NOT_FOUND result on acms.validation.results"
set +e; ctl submit --ref 'bad ref' --env dev >/dev/null 2>&1; rc=$?; set -e
assert_eq "$rc" 2 "a malformed reference is a usage error"
set +e; ctl submit "$work/v1.yaml" --ref "$id@1" --env dev >/dev/null 2>&1; rc=$?; set -e
assert_eq "$rc" 2 "FILE and --ref together are a usage error"
assert_eq "$(topic_count acms.deadletter)" "$dl_before" "nothing dead-lettered"
assert_true "[ -n \"\$(stack__pid adapter-0)\" ]" "acms-adapter still running"

# --- the HTTP backend through the adapter --------------------------------------------------------
srv_dir=$STACK_DIR/config-server
mkdir -p "$srv_dir"
exec 7< <(exec "$STACK_PY" "$REPO/tests/lib/config_server.py" "$srv_dir" 2>"$STACK_DIR/config-server.log")
srv_pid=$!
read -r -t 10 port <&7
assert_true "[ -n '$port' ]" "config_server.py listens"
export ACMS_CONFIG_STORE=http://127.0.0.1:$port
assert_eq "$(ctl config put "$work/v1.yaml" 2>/dev/null)" "$id@1" "HTTP store: put v1"
assert_eq "$(ctl config put "$work/v2.yaml" 2>/dev/null)" "$id@2" "HTTP store: put v2"
assert_eq "$(ctl config put "$work/v2.yaml" 2>/dev/null)" "$id@2" "HTTP store: same content, same version"
pipeline $id v1-dev >"$srv_dir/$id/1@dev.yaml"   # a context variant of version 1 for dev
stack_stop_service adapter 0
stack_start_service adapter 0
stack_wait_ready 60
out=$(run_ref "$id@1")
run=$(json_get "$out" run_id)
assert_eq "$(marker_of "$run")" v1-dev "HTTP store: version 1 in the dev context"
assert_eq "$(stack_redis_cli HGET "acms:run:$run" config_hash)" "$(sha256sum "$srv_dir/$id/1@dev.yaml" | cut -d' ' -f1)" \
  "HTTP store: the hash of what ran"
set +e; out=$(ctl submit --ref nope@7 --env dev --wait --timeout 60 2>&1); rc=$?; set -e
assert_eq "$rc" 1 "HTTP store: a missing reference is rejected"
assert_true "grep -q 'configuration store http' '$STACK_DIR/adapter-0.log'" "the adapter used the HTTP store"
assert_true "[ -n \"\$(stack__pid adapter-0)\" ]" "acms-adapter still running"
echo "config store: versions put, de-duplicated and diffed; each reference ran its version; missing references rejected"
