#!/usr/bin/env bash
# Encryption at rest on the real stack: with ACMS_MASTER_KEY_FILE every service and acmsctl seal
# stored configurations and each run's stored runtime configuration; after a put and a run by
# reference, no Redis key (nor the AOF) holds the document's text; `acmsctl config rotate-key`
# re-wraps every data key under a new master key, after which the old key alone fails with a clear
# error and the new one reads everything. `acmsctl config put` refuses a plain-text credential
# exactly as submit does (exit 1, nothing stored). The HTTP backend's storage service receives and
# keeps envelopes only, bound to their id and version (one copied elsewhere fails clearly); a put of
# the same content keeps its version; rotate-key re-wraps the service's documents too.
# shellcheck disable=SC2034 # variables read inside assert_true's eval
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-enc-XXXXXX)"
keys=$(mktemp -d /tmp/acms-enc-keys-XXXXXX)
srv_pid=""
trap '[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; stack_stop; rm -rf "$keys"' EXIT
head -c 32 /dev/urandom >"$keys/k1"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$keys/k2"   # the hex form works too
chmod 600 "$keys"/k*
export ACMS_MASTER_KEY_FILE=$keys/k1
stack_start_all

marker="enc-marker-$RANDOM$RANDOM"
cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: sealed-pipeline, labels: {team: security}}
spec:
  steps:
    - name: s1
      type: processing
      command: ["sh", "-c", "echo $marker >/dev/null"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/enc/s1
      tags: {cost-center: sec-1}
YAML
ref=$("$BIN/acmsctl" config put "$STACK_DIR/p.yaml" | awk '{print $1; exit}')
assert_eq "$ref" sealed-pipeline@1 "stored as version 1"
out=$("$BIN/acmsctl" submit --ref sealed-pipeline --env dev --wait --format json --timeout 120)
assert_eq "$(json_get "$out" status)" succeeded "a run by reference reads the sealed version"
assert_true "\"$BIN/acmsctl\" config get sealed-pipeline@1 | grep -q '$marker'" "config get opens it"
stack_redis_cli BGREWRITEAOF >/dev/null; sleep 0.2   # (the AOF is checked below whatever its state)
dump=$(stack_redis_cli --raw EVAL "local o = {} for _, k in ipairs(redis.call('KEYS', '*')) do o[#o+1] = k
  local t = redis.call('TYPE', k).ok if t == 'hash' then for _, x in ipairs(redis.call('HGETALL', k)) do o[#o+1] = x end
  elseif t == 'string' then o[#o+1] = redis.call('GET', k) end end return table.concat(o, '\n')" 0)
assert_true "echo \"\$dump\" | grep -q 'acmsenc1:'" "documents are stored as envelopes"
assert_true "! echo \"\$dump\" | grep -q -a '$marker'" "no Redis key holds the document's text"
assert_true "! grep -r -a -q -F '$marker' '$STACK_DIR'/appendonlydir" "nor does the AOF"

# rotation: k2 current, k1 previous; then k1 alone fails clearly and k2 alone reads
rot=$(ACMS_MASTER_KEY_FILE=$keys/k2 ACMS_MASTER_KEY_FILE_PREVIOUS=$keys/k1 "$BIN/acmsctl" config rotate-key)
assert_true "echo '$rot' | grep -q '1 document(s) re-wrapped'" "rotate-key re-wrapped the document ($rot)"
rc=0; err=$(ACMS_MASTER_KEY_FILE=$keys/k1 "$BIN/acmsctl" config get sealed-pipeline@1 2>&1) || rc=$?
assert_true "[ $rc -ne 0 ] && echo \"\$err\" | grep -q 'not configured'" "the old key alone fails clearly: $err"
rc=0; err=$(env -u ACMS_MASTER_KEY_FILE "$BIN/acmsctl" config get sealed-pipeline@1 2>&1) || rc=$?
assert_true "[ $rc -ne 0 ] && echo \"\$err\" | grep -q 'no master key is set'" "no key fails clearly: $err"
assert_true "ACMS_MASTER_KEY_FILE=$keys/k2 \"$BIN/acmsctl\" config get sealed-pipeline@1 | grep -q '$marker'" \
  "the new key reads it"

# config put refuses a plain-text credential exactly as submit does
sed 's/max_runtime_s: 30/max_runtime_s: 30\n      env: {DB_PASSWORD: "hunter2-plain"}/' "$STACK_DIR/p.yaml" |
  sed 's/sealed-pipeline/plain-pipeline/' >"$STACK_DIR/plain.yaml"
rc=0; err=$("$BIN/acmsctl" config put "$STACK_DIR/plain.yaml" 2>&1) || rc=$?
assert_eq "$rc" 1 "config put of a plain-text credential exits 1"
assert_true "echo \"\$err\" | grep -q 'refusing to store' && ! echo \"\$err\" | grep -q hunter2" "it says why, without the value"
assert_eq "$(stack_redis_cli SISMEMBER acms:configs plain-pipeline)" 0 "nothing stored"
# --- the HTTP backend: documents leave sealed; the service holds and hashes envelopes only -----------
srv_dir=$STACK_DIR/config-server
mkdir -p "$srv_dir"
exec 7< <(exec "$STACK_PY" "$REPO/tests/lib/config_server.py" "$srv_dir" 2>"$STACK_DIR/config-server.log")
srv_pid=$!
read -r -t 10 port <&7
assert_true "[ -n '$port' ]" "config_server.py listens"
export ACMS_MASTER_KEY_FILE=$keys/k2
http() { ACMS_CONFIG_STORE=http://127.0.0.1:$port "$BIN/acmsctl" "$@"; }
assert_eq "$(http config put "$STACK_DIR/p.yaml" | awk '{print $1; exit}')" sealed-pipeline@1 "HTTP store: put, sealed"
assert_eq "$(http config put "$STACK_DIR/p.yaml" | awk '{print $1; exit}')" sealed-pipeline@1 \
  "HTTP store: the same content keeps its version although each seal differs"
assert_true "grep -r -q -a '^acmsenc1:' '$srv_dir'" "the storage service holds an envelope"
assert_true "! grep -r -q -a -F '$marker' '$srv_dir'" "and never the document's text"
assert_true "http config get sealed-pipeline@1 | grep -q '$marker'" "HTTP store: config get opens it"
plain_hash=$(sha256sum "$STACK_DIR/p.yaml" | cut -d' ' -f1)
assert_true "http config get sealed-pipeline@1 --format json | grep -q '$plain_hash'" \
  "its hash is the plain text's, as with the Redis backend"
rc=0; err=$(env -u ACMS_MASTER_KEY_FILE ACMS_CONFIG_STORE=http://127.0.0.1:$port "$BIN/acmsctl" config get sealed-pipeline@1 2>&1) || rc=$?
assert_true "[ $rc -ne 0 ] && echo \"\$err\" | grep -q 'no master key is set'" "HTTP store: no key fails clearly: $err"
rc=0; err=$(ACMS_MASTER_KEY_FILE=$keys/k1 ACMS_CONFIG_STORE=http://127.0.0.1:$port "$BIN/acmsctl" config get sealed-pipeline@1 2>&1) || rc=$?
assert_true "[ $rc -ne 0 ] && echo \"\$err\" | grep -q 'not configured'" "HTTP store: another key fails clearly: $err"
sed 's/echo /echo v2-/' "$STACK_DIR/p.yaml" >"$STACK_DIR/p2.yaml"
assert_eq "$(http config put "$STACK_DIR/p2.yaml" | awk '{print $1; exit}')" sealed-pipeline@2 "HTTP store: new content, new version"
# the version is bound too: an envelope copied to another version or another id does not open
v1=$(ls "$srv_dir"/sealed-pipeline/1.*) v2=$(ls "$srv_dir"/sealed-pipeline/2.*)
cp "$v2" "$STACK_DIR/v2.keep"; cp "$v1" "$v2"
rc=0; err=$(http config get sealed-pipeline@2 2>&1) || rc=$?
assert_true "[ $rc -ne 0 ] && echo \"\$err\" | grep -q 'sealed-pipeline@2: sealed for another id, version or kind'" \
  "HTTP store: version 1's envelope copied over version 2 fails clearly: $err"
cp "$STACK_DIR/v2.keep" "$v2"
mkdir -p "$srv_dir/copied-pipeline"; cp "$v1" "$srv_dir/copied-pipeline/1.yaml"
rc=0; err=$(http config get copied-pipeline@1 2>&1) || rc=$?
assert_true "[ $rc -ne 0 ] && echo \"\$err\" | grep -q 'copied-pipeline@1: sealed for another id, version or kind'" \
  "HTTP store: an envelope copied to another id fails clearly: $err"
rm -r "$srv_dir/copied-pipeline"
# rotate-key on the HTTP store: each version's data key re-wrapped in place (PUT + If-Match), then
# the new key alone reads both versions and the old one alone fails clearly
head -c 32 /dev/urandom >"$keys/k3"; chmod 600 "$keys/k3"
before=$(sha256sum "$v1" | cut -d' ' -f1)
rot=$(ACMS_MASTER_KEY_FILE=$keys/k3 ACMS_MASTER_KEY_FILE_PREVIOUS=$keys/k2 http config rotate-key --format json)
assert_eq "$(json_get "$rot" rewrapped)" 2 "HTTP store: rotate-key re-wrapped both versions ($rot)"
assert_true "[ '$(sha256sum "$v1" | cut -d' ' -f1)' != '$before' ] && grep -q -a '^acmsenc1:f-' '$v1'" \
  "the service holds the re-wrapped envelope"
assert_true "ACMS_MASTER_KEY_FILE=$keys/k3 http config get sealed-pipeline@1 | grep -q '$marker'" "HTTP store: the new key reads v1"
assert_true "ACMS_MASTER_KEY_FILE=$keys/k3 http config get sealed-pipeline@2 | grep -q 'v2-$marker'" "and v2"
rc=0; err=$(http config get sealed-pipeline@1 2>&1) || rc=$?
assert_true "[ $rc -ne 0 ] && echo \"\$err\" | grep -q 'not configured'" "HTTP store: the old key alone fails clearly: $err"
rot=$(ACMS_MASTER_KEY_FILE=$keys/k3 http config rotate-key --format json)
assert_eq "$(json_get "$rot" rewrapped)" 0 "HTTP store: a second rotation has nothing to do"
echo "config-encryption: sealed at rest (Redis and HTTP backends, id, version and kind bound), rotated on both, wrong keys fail clearly; plain-text credentials refused"
