#!/usr/bin/env bash
# Secrets never travel in clear (DESIGN rule 4), checked end to end on the real stack. Three known
# random secrets, one per backend (secret://env/, secret://file/, secret://vault/ through the Vault
# mock) plus the Vault token itself, reach a step that proves it got each one (it writes their
# SHA-256, never the value). Then every place a value could leak is searched for each secret, raw,
# base64 and hex: every message (key, headers, payload) of every topic, every Redis key and value,
# the Redis AOF (every write ever made, expired keys included), every file under the stack directory
# (service, broker and Redis logs, the steps' captured stdout/stderr and work files) and the output of
# every acmsctl command (validate, prepare, submit --wait, submit + watch, status, config put/get,
# text and json). Finally a plain-text credential in a configuration is refused by validate, by
# acmsctl submit before anything is published, and by the services when another publisher sends it;
# its value is echoed by no issue, log, topic (beyond that publisher's own document) or Redis key.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-secret-XXXXXX)"
secret_dir=$(mktemp -d /tmp/acms-secret-src-XXXXXX)  # the secret file lives outside the scanned tree
vault_pid=""
cleanup() {
  [ -n "$vault_pid" ] && kill "$vault_pid" 2>/dev/null
  rm -rf "$secret_dir"
  stack_stop
}
trap cleanup EXIT

rnd() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 28; }
ENV_SECRET="envS-$(rnd)/+&"   # reserved characters: its URL-encoded form differs
FILE_SECRET="fileS-$(rnd)"
VAULT_SECRET="vaultS-$(rnd)"
VAULT_TOKEN_VALUE="hvs.$(rnd)"
PLAIN_SECRET="hunter2-$(rnd)"
# dev's profile with this test's secret folder as its file scope (the shipped one names /var/lib/acms/secrets/dev/)
cp -r "$REPO/examples" "$secret_dir/config"
sed -i "s|secret://file/var/lib/acms/secrets/dev/|secret://file$secret_dir/|" "$secret_dir/config/environments/dev.yaml"
grep -q "secret://file$secret_dir/" "$secret_dir/config/environments/dev.yaml"
export ACMS_CONFIG_DIR=$secret_dir/config
printf '%s\n' "$FILE_SECRET" >"$secret_dir/db-password"   # one trailing newline: dropped on resolution
chmod 600 "$secret_dir/db-password"
printf '{"kv/data/dev/leak-db": {"password": "%s"}}\n' "$VAULT_SECRET" >"$secret_dir/vault.json"

# Vault mock (KV v2) on a free port, first line of its stdout
mkfifo "$secret_dir/vault.port"
/usr/bin/python3 "$REPO/tests/lib/vault_mock.py" "$secret_dir/vault.json" "$VAULT_TOKEN_VALUE" \
  >"$secret_dir/vault.port" 2>"$secret_dir/vault.err" &
vault_pid=$!
read -r vault_port <"$secret_dir/vault.port"
export VAULT_ADDR="http://127.0.0.1:$vault_port" VAULT_TOKEN="$VAULT_TOKEN_VALUE"
export DEV_LEAK_DB_PASSWORD="$ENV_SECRET"   # the services' environment: only the coordinator resolves it
export ACMS_LOG_LEVEL=debug             # the most talkative logs are the ones searched
stack_start_all

work=$STACK_DIR/pipeline ctl=$STACK_DIR/ctl
mkdir -p "$work" "$ctl"
cat >"$work/leak.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: secret-leak, labels: {team: security}}
spec:
  steps:
    - name: use-secrets
      type: processing
      # proves it got every value (their hashes) without ever printing one
      command: ["sh", "-c", "printf %s \"\$DB_PASSWORD\" | sha256sum >env.sha && printf %s \"\$FILE_PASSWORD\" | sha256sum >file.sha && printf %s \"\$VAULT_PASSWORD\" | sha256sum >vault.sha && echo 'used 3 secrets'"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/security/leak
      env:
        DB_PASSWORD: "secret://env/DEV_LEAK_DB_PASSWORD"
        FILE_PASSWORD: "secret://file$secret_dir/db-password"
        VAULT_PASSWORD: "secret://vault/kv/data/dev/leak-db#password"
        ROWS: "10"
      tags: {cost-center: sec-1}
    - name: after
      type: processing
      depends_on: [use-secrets]
      # the coordinator's own environment (where the env secret and the Vault token live) is not inherited
      command: ["sh", "-c", "test -z \"\$DB_PASSWORD\$DEV_LEAK_DB_PASSWORD\$VAULT_TOKEN\" && echo 'no secret here'"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/security/after
      tags: {cost-center: sec-1}
YAML

# every acmsctl command; each one's stdout and stderr kept for the search
ctl_run() { # name, expected exit code, acmsctl args...
  local name=$1 want=$2 rc=0; shift 2
  "$BIN/acmsctl" "$@" >"$ctl/$name.out" 2>"$ctl/$name.err" || rc=$?
  assert_eq "$rc" "$want" "acmsctl $* exits $want"
}
ctl_run validate-text 0 validate "$work/leak.yaml" --env dev
ctl_run validate-json 0 validate "$work/leak.yaml" --env dev --format json
ctl_run prepare-text 0 prepare "$work/leak.yaml" --env dev
ctl_run prepare-json 0 prepare "$work/leak.yaml" --env dev --format json
ctl_run submit-wait-text 0 submit "$work/leak.yaml" --env dev --wait --timeout 120
run1=$(awk '$1 == "run" {print $2; exit}' "$ctl/submit-wait-text.out")
ctl_run submit-wait-json 0 submit "$work/leak.yaml" --env dev --wait --timeout 120 --format json
run3=$(json_get "$(cat "$ctl/submit-wait-json.out")" run_id)
ctl_run submit-json 0 submit "$work/leak.yaml" --env dev --format json
run2=$(json_get "$(cat "$ctl/submit-json.out")" run_id)
ctl_run watch 0 watch "$run2" --timeout 120
ctl_run status-text 0 status "$run1"
ctl_run status-json 0 status "$run2" --format json
ctl_run config-put 0 config put "$work/leak.yaml"
ref=$(head -1 "$ctl/config-put.out" | awk '{print $1}')
ctl_run config-get 0 config get "$ref" --env dev
assert_eq "$(json_get "$(cat "$ctl/status-json.out")" status)" succeeded "second run succeeded"

# the step got exactly each value (the hash of the resolved value equals the hash of the secret)
for kind in env file vault; do
  case $kind in env) v=$ENV_SECRET ;; file) v=$FILE_SECRET ;; vault) v=$VAULT_SECRET ;; esac
  want=$(printf %s "$v" | sha256sum | cut -d' ' -f1)
  for run in "$run1" "$run2" "$run3"; do
    f=$(find "$STACK_DIR/work/$run" -name "$kind.sha" | head -1)
    assert_true "[ -n \"$f\" ] && [ \"\$(cut -d' ' -f1 '$f')\" = $want ]" "run ${run:0:8}: step received the $kind secret"
  done
done
assert_true "find '$STACK_DIR/work/$run1' -path '*after*' -name stdout.log -exec grep -q 'no secret here' {} \;" \
  "a step without the reference does not get the value"

# a failing step that prints its secrets (raw, base64, URL-encoded) to stderr and stdout: the tail,
# the reason, the events, the logs, the step's captured files and acmsctl show "***" instead
cat >"$work/print.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: secret-print, labels: {team: security}}
spec:
  steps:
    - name: blabber
      type: processing
      command: ["sh", "-c", "echo \"connecting with \$DB_PASSWORD\" >&2; printf %s \"\$VAULT_PASSWORD\" | base64 >&2; printf 'pw=%s\\n' \"\$FILE_PASSWORD\"; python3 -c 'import os,urllib.parse;print(\"url=\"+urllib.parse.quote(os.environ[\"DB_PASSWORD\"],safe=\"\"))' >&2; exit 3"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      max_attempts: 1
      output_path: s3://acme-ml/security/print
      env:
        DB_PASSWORD: "secret://env/DEV_LEAK_DB_PASSWORD"
        FILE_PASSWORD: "secret://file$secret_dir/db-password"
        VAULT_PASSWORD: "secret://vault/kv/data/dev/leak-db#password"
      tags: {cost-center: sec-1}
YAML
ctl_run print-submit 1 submit "$work/print.yaml" --env dev --wait --timeout 120 --format json
prun=$(json_get "$(cat "$ctl/print-submit.out")" run_id)
ctl_run print-status 0 status "$prun"
ctl_run print-status-json 0 status "$prun" --format json
ctl_run print-watch 1 watch "$prun" --timeout 60
assert_true "grep -q 'connecting with \*\*\*' '$ctl/print-status.out' '$ctl/print-status-json.out' '$ctl/print-watch.out'" \
  "the failing step's stderr tail shows the password masked"
ptail=$(stack_redis_cli HGET "acms:run:$prun:step:blabber" attempts)
assert_true "echo \"\$ptail\" | grep -q 'connecting with \*\*\*'" "the tail in Redis is masked"
assert_true "find '$STACK_DIR/work/$prun' -name stdout.log -exec grep -q 'pw=\*\*\*' {} \;" "the captured stdout is masked"

# --- the search ---------------------------------------------------------------------------------
topics=$(kcat -b "$ACMS_KAFKA_BROKERS" -L 2>/dev/null | sed -n 's/^  topic "\([^"]*\)".*/\1/p')
assert_true "echo '$topics' | grep -q acms.exec.steps" "topics listed"
for t in $topics; do
  kcat -b "$ACMS_KAFKA_BROKERS" -C -t "$t" -e -o beginning -q -f 'key=%k headers=%h\n%s\n' 2>/dev/null \
    >"$STACK_DIR/scan-topic-$t.bin" || true
done
assert_true "[ -s '$STACK_DIR/scan-topic-acms.exec.results.bin' ]" "execution results read back"
# every key and value now (one script); the AOF under $STACK_DIR keeps every write ever made too
redis_dump=$STACK_DIR/scan-redis.txt
dump_script="local o = {}
for _, k in ipairs(redis.call('KEYS', '*')) do
  o[#o + 1] = k
  local t = redis.call('TYPE', k).ok
  local v = {}
  if t == 'string' then v = {redis.call('GET', k)}
  elseif t == 'hash' then v = redis.call('HGETALL', k)
  elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
  elseif t == 'set' then v = redis.call('SMEMBERS', k)
  elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1) end
  for _, x in ipairs(v) do o[#o + 1] = x end
end
return o"
redis_dump() { stack_redis_cli --raw EVAL "$dump_script" 0 >"$redis_dump"; }
redis_dump
assert_true "[ \$(wc -l <'$redis_dump') -gt 100 ] && grep -q 'acms:run:$run1' '$redis_dump'" \
  "Redis dumped ($(wc -l <"$redis_dump") lines)"

leaks=0
search() { # label value
  local label=$1 v=$2 form needle hits
  for form in raw b64 hex url; do
    case $form in
      url) needle=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$v") ;;
      raw) needle=$v ;;
      b64) needle=$(printf %s "$v" | base64 -w0 | tr -d '=') ; needle=${needle:0:24} ;;
      hex) needle=$(printf %s "$v" | od -An -tx1 | tr -d ' \n') ;;
    esac
    # everything under the stack directory: topics and Redis dumps, logs, AOF, step files, acmsctl output
    hits=$(grep -r -a -l -F -- "$needle" "$STACK_DIR" 2>/dev/null || true)
    if [ -n "$hits" ]; then
      echo "LEAK: $label ($form) found in:" >&2
      echo "$hits" | sed 's/^/    /' >&2
      leaks=$((leaks + 1))
    fi
  done
}
search "env secret" "$ENV_SECRET"
search "file secret" "$FILE_SECRET"
search "vault secret" "$VAULT_SECRET"
search "vault token" "$VAULT_TOKEN_VALUE"
assert_eq "$leaks" 0 "no secret value (raw, base64, hex) in any topic, Redis key, AOF, log, step output or acmsctl output"
# the search can find what it looks for: the secret file, copied in, is found
cp "$secret_dir/db-password" "$STACK_DIR/canary"
assert_true "grep -r -a -q -F -- '$FILE_SECRET' '$STACK_DIR'" "the search finds a planted value"
rm -f "$STACK_DIR/canary"

# --- a plain-text credential: refused, and its value echoed nowhere ------------------------------
cat >"$work/plain.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: secret-plain, labels: {team: security}}
spec:
  steps:
    - name: connect
      type: processing
      command: ["sh", "-c", "true"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/security/plain
      env: {DB_PASSWORD: "$PLAIN_SECRET"}
      tags: {cost-center: sec-1}
YAML
ctl_run plain-validate-text 1 validate "$work/plain.yaml" --env dev
ctl_run plain-validate-json 1 validate "$work/plain.yaml" --env dev --format json
assert_true "grep -q PLAINTEXT_CREDENTIAL '$ctl/plain-validate-text.out'" "validate names PLAINTEXT_CREDENTIAL"
assert_true "grep -q 'secret://' '$ctl/plain-validate-text.out'" "validate suggests a secret reference"
ctl_run plain-prepare-text 0 prepare "$work/plain.yaml" --env dev
# acmsctl submit refuses before publishing: nothing reaches the bus or Redis
submitted_before=$(topic_count acms.config.submitted)
ctl_run plain-submit 1 submit "$work/plain.yaml" --env dev --wait --timeout 60 --format json
# --format json: the refusal is the one JSON document on stdout (docs/acmsctl.md), naming the place
assert_true "$STACK_PY -c 'import json,sys; e=json.load(open(sys.argv[1]))[\"error\"]; assert e[\"code\"]==\"plaintext_credential\" and \"refusing to submit\" in e[\"message\"] and e[\"details\"][\"places\"][0][\"path\"]==\"steps.connect.env.DB_PASSWORD\"' '$ctl/plain-submit.out'" \
  "acmsctl submit refuses a plain-text credential and names where it is"
assert_eq "$(grep -c run_id "$ctl/plain-submit.out" || true)" 0 "no run id printed for a refused submission"
assert_eq "$(topic_count acms.config.submitted)" "$submitted_before" "nothing published by a refused submission"
# a publisher without acmsctl's guard (proto/ only): the adapter redacts it and the validator rejects it
gen=$STACK_DIR/gen
mkdir -p "$gen"
protoc --python_out="$gen" -I"$REPO/proto" "$REPO"/proto/acms/v1/*.proto
/usr/bin/python3 "$REPO/tests/interop/publish_config.py" --gen "$gen" --brokers "$ACMS_KAFKA_BROKERS" \
  --env dev "$work/plain.yaml" >"$ctl/plain-publish.out"
prun=$(json_get "$(cat "$ctl/plain-publish.out")" run_id)
wait_for 60 "[ \"\$(stack_redis_cli HGET acms:run:$prun status)\" = rejected ]" \
  "plain-text credential rejected on the bus path"
ctl_run plain-status 0 status "$prun" --format json
wait_for 20 "[ -n \"\$(stack_redis_cli HGET acms:feedback:run:$prun status)\" ] || [ \$(topic_count_key acms.validation.results $prun) -ge 1 ]" \
  "rejection recorded"
for t in $topics; do
  kcat -b "$ACMS_KAFKA_BROKERS" -C -t "$t" -e -o beginning -q -f 'key=%k headers=%h\n%s\n' 2>/dev/null \
    >"$STACK_DIR/scan-topic-$t.bin" || true
done
# the document the user published on acms.config.submitted holds the value by construction; nothing
# derived from it may (the adapter's prepared configuration included)
rm -f "$STACK_DIR/scan-topic-acms.config.submitted.bin"
redis_dump
# (with ACMS_BUS=kafka the broker's own files of that topic hold it too: the same published document)
plain_hits=$(grep -r -a -l -F -- "$PLAIN_SECRET" "$STACK_DIR" 2>/dev/null | grep -v -e "/pipeline/plain.yaml$" \
  -e "/kafka-[0-9]*/data/acms.config.submitted-[0-9]*/" || true)
if [ -n "$plain_hits" ]; then echo "plain-text value found in:" >&2; echo "$plain_hits" | sed 's/^/    /' >&2; fi
assert_eq "$plain_hits" "" "plain-text value echoed by no issue, log, derived topic, Redis key or acmsctl verdict"
echo "secret-leak: 3 backends reach the step only; plain-text credentials refused without echo"
