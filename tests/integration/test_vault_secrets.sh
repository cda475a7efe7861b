#!/usr/bin/env bash
# secret://vault/ references against a loopback server that answers as Vault's KV v2 API does: the
# services log in with AppRole (the secret id from a file), the adapter checks the reference resolves
# at prepare time, the coordinator resolves it into the step's environment at exec time, and the value
# appears nowhere else. A token that expires while a run is running (the stand-in expires every token
# between the run's two steps) costs a new login, not the run. A reference to a missing key is
# rejected before anything runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
stack_init "$(mktemp -d /tmp/acms-vault-XXXXXX)"
trap 'kill $vault_pid 2>/dev/null || true; stack_stop' EXIT
secret="vault-$RANDOM-$RANDOM-$$"
printf '{"kv/data/dev/churn-db": {"password": "%s", "user": "churn"}}\n' "$secret" >"$STACK_DIR/secrets.json"
sid="sid-$RANDOM-$$"
coproc VAULT { exec /usr/bin/python3 "$here/../lib/vault_mock.py" "$STACK_DIR/secrets.json" - \
  --approle "acms-role:$sid" --token-ttl 600 2>>"$STACK_DIR/vault.log"; }
vault_pid=$VAULT_PID
read -r vport <&"${VAULT[0]}"
printf '%s\n' "$sid" >"$STACK_DIR/secret-id"
chmod 600 "$STACK_DIR/secret-id"
export VAULT_ADDR="http://127.0.0.1:$vport" VAULT_ROLE_ID=acms-role VAULT_SECRET_ID_FILE="$STACK_DIR/secret-id"
export VAULT_CACHE_TTL_S=0   # every resolution asks Vault: the expiry below is met, not cached over
stack_start_all

pipeline() { # name ref
  cat <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: $1, labels: {owner: ci}}
spec:
  steps:
    - name: use
      type: processing
      command: ["sh", "-c", "test \"\$DB_PASSWORD\" = \"\$(cat $STACK_SHARED/expected)\" && echo matched"]
      instance_type: ml.m5.large
      max_runtime_s: 30
      output_path: s3://acme-ml/it/vault
      tags: {cost-center: cc-1}
      env: {DB_PASSWORD: "$2"}
YAML
}
printf '%s' "$secret" >"$STACK_SHARED/expected"   # the step compares against it without printing it
chmod 0644 "$STACK_SHARED/expected"
pipeline vault-ok "secret://vault/kv/data/dev/churn-db#password" >"$STACK_DIR/ok.yaml"
pipeline vault-missing "secret://vault/kv/data/dev/churn-db#nope" >"$STACK_DIR/missing.yaml"
out=$("$BIN/acmsctl" submit "$STACK_DIR/ok.yaml" --env dev --wait --format json --timeout 60)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "step got the Vault secret"
assert_true "grep -rq matched $STACK_DIR/work/$run" "the step saw the right value"
# a token that expires mid-run: step "wait" holds the run until the tokens are expired, then "use"
# resolves the secret with a new login
cat >"$STACK_DIR/midrun.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: vault-midrun, labels: {owner: ci}}
spec:
  steps:
    - name: wait
      type: processing
      command: ["sh", "-c", "while [ ! -f $STACK_SHARED/go ]; do sleep 0.1; done"]
      instance_type: ml.m5.large
      max_runtime_s: 120
      output_path: s3://acme-ml/it/vault-wait
      tags: {cost-center: cc-1}
    - name: use
      type: processing
      depends_on: [wait]
      command: ["sh", "-c", "test \"\$DB_PASSWORD\" = \"\$(cat $STACK_SHARED/expected)\" && echo matched"]
      instance_type: ml.m5.large
      max_runtime_s: 30
      output_path: s3://acme-ml/it/vault-use
      tags: {cost-center: cc-1}
      env: {DB_PASSWORD: "secret://vault/kv/data/dev/churn-db#password"}
YAML
mid=$(json_get "$("$BIN/acmsctl" submit "$STACK_DIR/midrun.yaml" --env dev --format json)" run_id)
wait_for 60 "[ \"\$(stack_redis_cli HGET acms:run:$mid:step:wait status)\" = running ]" "mid-run: first step running"
logins_before=$(curl -s "$VAULT_ADDR/v1/sys/mock/stats" | python3 -c 'import json,sys;print(json.load(sys.stdin)["logins"])')
curl -s -X POST "$VAULT_ADDR/v1/sys/mock/expire-tokens" >/dev/null
touch "$STACK_SHARED/go"
wait_for 60 "[ \"\$(stack_redis_cli HGET acms:run:$mid status)\" = succeeded ]" "mid-run: the run succeeded after the token expired"
logins_after=$(curl -s "$VAULT_ADDR/v1/sys/mock/stats" | python3 -c 'import json,sys;print(json.load(sys.stdin)["logins"])')
assert_true "[ $logins_after -gt $logins_before ]" "a new AppRole login replaced the expired token ($logins_before -> $logins_after)"
assert_true "grep -rq matched $STACK_DIR/work/$mid" "mid-run: the step saw the right value"
set +e; out=$("$BIN/acmsctl" submit "$STACK_DIR/missing.yaml" --env dev --wait --format json --timeout 60); rc=$?; set -e
assert_eq "$rc" 1 "missing Vault key: run not executed"
assert_eq "$(json_get "$out" status)" rejected "missing Vault key rejected"
rm -f "$STACK_SHARED/expected" "$STACK_DIR/secrets.json"
assert_no_secret "$secret"
assert_no_secret "$sid"
echo "vault: AppRole login, reference checked at prepare, resolved at exec (also after a token expired mid-run), value nowhere else"
