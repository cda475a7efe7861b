#!/usr/bin/env bash
# acms-console opens encrypted stored configurations with the services' key provider: here Vault's
# transit engine (ACMS_MASTER_KEY_TRANSIT) through an AppRole login against the Vault stand-in
# (tests/lib/vault_mock.py). acmsctl seals a configuration under transit; the console serves its
# text, and still does after every Vault token expired (it logs in again). A console holding only a
# file key fails that version clearly, naming the transit key; one asked for transit without Vault
# refuses to start, saying so.
# shellcheck disable=SC2034 # variables read inside assert_true's eval
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-console-transit-XXXXXX)"
vault_pid=""
trap '[ -n "$vault_pid" ] && kill "$vault_pid" 2>/dev/null; stack_stop' EXIT
echo '{}' >"$STACK_DIR/secrets.json"
sid="sid-$RANDOM-$$"
coproc VAULT { exec /usr/bin/python3 "$here/../lib/vault_mock.py" "$STACK_DIR/secrets.json" - \
  --approle "acms-role:$sid" --token-ttl 600 2>>"$STACK_DIR/vault.log"; }
vault_pid=$VAULT_PID
read -r -t 10 vport <&"${VAULT[0]}"
assert_true "[ -n '$vport' ]" "the Vault stand-in listens"
printf '%s\n' "$sid" >"$STACK_DIR/secret-id"
chmod 600 "$STACK_DIR/secret-id"
export VAULT_ADDR="http://127.0.0.1:$vport" VAULT_ROLE_ID=acms-role VAULT_SECRET_ID_FILE="$STACK_DIR/secret-id"
export ACMS_MASTER_KEY_TRANSIT=acms-at-rest
unset ACMS_MASTER_KEY_FILE ACMS_MASTER_KEY_FILE_PREVIOUS
stack_start_redis

marker="transit-marker-$RANDOM$RANDOM"
cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: transit-pipeline}
spec:
  steps:
    - {name: s1, type: processing, command: ["echo", "$marker"], instance_type: ml.t3.medium, output_path: s3://acme-ml/t/s1}
YAML
assert_eq "$("$BIN/acmsctl" config put "$STACK_DIR/p.yaml" | awk '{print $1; exit}')" transit-pipeline@1 \
  "acmsctl seals the configuration under transit"
stored=$(stack_redis_cli --raw HGET acms:config:transit-pipeline:v:1 document)
assert_true "echo \"\$stored\" | grep -q '^acmsenc1:t-acms-at-rest:'" "Redis holds an envelope wrapped by transit"
assert_true "! echo \"\$stored\" | grep -q '$marker'" "and not the text"

stack_start_service console 0
stack_wait_ready 30
base=http://127.0.0.1:$(cat "$STACK_DIR/console-0.port")
body=$(curl -sS "$base/api/configs/transit-pipeline/versions/1")
assert_true "echo \"\$body\" | grep -q '$marker'" "the console opens it through Vault transit: $body"
curl -fsS -X POST "$VAULT_ADDR/v1/sys/mock/expire-tokens" >/dev/null
body=$(curl -sS "$base/api/configs/transit-pipeline/versions/1")
assert_true "echo \"\$body\" | grep -q '$marker'" "and again after its Vault token expired: $body"

# a console holding only a file key: that version fails clearly, naming the transit key
head -c 32 /dev/urandom >"$STACK_DIR/file.key"
chmod 600 "$STACK_DIR/file.key"
(unset ACMS_MASTER_KEY_TRANSIT; ACMS_MASTER_KEY_FILE=$STACK_DIR/file.key stack_start_service console 1)
stack_wait_ready 30
base1=http://127.0.0.1:$(cat "$STACK_DIR/console-1.port")
code=$(curl -s -o "$STACK_DIR/answer.json" -w '%{http_code}' "$base1/api/configs/transit-pipeline/versions/1")
assert_eq "$code" 502 "a file key cannot open it"
assert_true "grep -q 't-acms-at-rest, which is not configured' '$STACK_DIR/answer.json'" \
  "the error names the key it needs: $(cat "$STACK_DIR/answer.json")"
assert_true "! grep -q '$marker' '$STACK_DIR/answer.json'" "and shows nothing of the text"

# transit without Vault: the console refuses to start, saying why
rc=0
env -u VAULT_ADDR ACMS_HTTP_ADDR=127.0.0.1 ACMS_HTTP_PORT="$(stack_free_port)" timeout 30 "$BIN/acms-console" \
  >"$STACK_DIR/novault.log" 2>&1 || rc=$?
assert_true "[ $rc -ne 0 ] && [ $rc -ne 124 ]" "without VAULT_ADDR the console exits (rc $rc)"
assert_true "grep -q 'ACMS_MASTER_KEY_TRANSIT needs Vault' '$STACK_DIR/novault.log'" "saying why"
echo "console-transit: sealed configurations open in the console through Vault transit (AppRole), across a token expiry; a wrong key or no Vault fails clearly"
