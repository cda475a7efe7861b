#!/usr/bin/env bash
# secret://vault/ references against a loopback server that answers as Vault's KV v2 API does: the
# adapter checks the reference resolves (token auth) at prepare time, the coordinator resolves it into
# the step's environment at exec time, and the value appears nowhere else. A reference to a missing
# key is rejected before anything runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
stack_init "$(mktemp -d /tmp/acms-vault-XXXXXX)"
trap 'kill $vault_pid 2>/dev/null || true; stack_stop' EXIT
secret="vault-$RANDOM-$RANDOM-$$"
printf '{"kv/data/dev/churn-db": {"password": "%s", "user": "churn"}}\n' "$secret" >"$STACK_DIR/secrets.json"
coproc VAULT { exec /usr/bin/python3 "$here/../lib/vault_mock.py" "$STACK_DIR/secrets.json" "root-token-$$" 2>>"$STACK_DIR/vault.log"; }
vault_pid=$VAULT_PID
read -r vport <&"${VAULT[0]}"
export VAULT_ADDR="http://127.0.0.1:$vport" VAULT_TOKEN="root-token-$$"
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
set +e; out=$("$BIN/acmsctl" submit "$STACK_DIR/missing.yaml" --env dev --wait --format json --timeout 60); rc=$?; set -e
assert_eq "$rc" 1 "missing Vault key: run not executed"
assert_eq "$(json_get "$out" status)" rejected "missing Vault key rejected"
rm -f "$STACK_SHARED/expected" "$STACK_DIR/secrets.json"
assert_no_secret "$secret"
echo "vault: reference checked at prepare, resolved at exec, value nowhere else"
