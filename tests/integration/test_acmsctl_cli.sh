#!/usr/bin/env bash
# acmsctl's plumbing as a newcomer meets it (docs/acmsctl.md), on a real stack:
# - it finds the stack from any directory through the stack file, and examples/ without ACMS_CONFIG_DIR;
#   an unreachable stack names the file the address came from, or the files looked for;
# - --format json prints exactly one JSON document on stdout for every outcome, errors as
#   {"error": {"code", "message", "exit_code"}} with that exit code; `--opt=value` works everywhere;
# - run ids resolve by unique prefix; an ambiguous prefix lists the candidates;
# - a rejected submit (adapter and validator) prints the issues as validate does: file:line:col, code,
#   fixes; a --ref rejection its "did you mean";
# - --timeout exits 4, watch of a cancelled run exits 1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
PY=/usr/bin/python3

stack_init "$(mktemp -d /tmp/acms-cli-XXXXXX)"
trap stack_stop EXIT
stack_start_all
stack_write_env "$STACK_DIR/stack.env"
out=$STACK_DIR/ctl
mkdir -p "$out"

# ctl NAME EXPECTED_RC ARGS...: acmsctl from /tmp, with no address in the environment: only the stack
# file named by ACMS_STACK_ENV (and no ACMS_CONFIG_DIR) says where things are. stdout/stderr kept.
ctl() {
  local name=$1 want=$2 rc=0; shift 2
  (cd /tmp && env -u ACMS_KAFKA_BROKERS -u ACMS_REDIS_URL -u ACMS_CONFIG_DIR ACMS_STACK_ENV="${CTL_STACK_ENV:-$STACK_DIR/stack.env}" \
    "$BIN/acmsctl" "$@" >"$out/$name.out" 2>"$out/$name.err") || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "--- acmsctl $* (exit $rc, expected $want)" >&2; cat "$out/$name.out" "$out/$name.err" >&2
  fi
  assert_eq "$rc" "$want" "acmsctl $* exits $want"
}
# one_json NAME [PY-EXPR]: stdout of NAME is exactly one JSON document (and PY-EXPR on it, d, holds)
one_json() {
  "$PY" - "$out/$1.out" "${2:-True}" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
d, end = json.JSONDecoder().raw_decode(text.lstrip())
assert text.lstrip()[end:].strip() == "", "more than one document on stdout"
assert eval(sys.argv[2]), "condition failed: %s on %s" % (sys.argv[2], json.dumps(d)[:400])
PY
}
json_error() { # NAME CODE EXIT: stdout is {"error": {"code": CODE, "exit_code": EXIT, "message": ...}}
  assert_true "one_json $1 'd[\"error\"][\"code\"] == \"$2\" and d[\"error\"][\"exit_code\"] == $3 and d[\"error\"][\"message\"]'" \
    "$1: one JSON error document, code $2, exit $3"
}

# --- from any directory ----------------------------------------------------------------------------
ctl list-tmp 0 config list
ctl validate-examples 0 validate "$REPO/examples/pipelines/churn-training.yaml" --env=staging
# prod requires enforcement, which the local executor cannot give its encrypted-volume policy
ctl validate-examples-prod 1 validate "$REPO/examples/pipelines/churn-training.yaml" --env=prod
(cd "$REPO/examples" && env -u ACMS_CONFIG_DIR "$BIN/acmsctl" validate pipelines/parallel-etl.json --env dev >"$out/rel.out")
assert_true "grep -q 'VALID' '$out/rel.out'" "validate from examples/ with a relative path finds its configuration directory"
# an unreachable stack says where the address came from
dead=$STACK_DIR/dead.env
printf 'ACMS_KAFKA_BROKERS=127.0.0.1:%s\nACMS_REDIS_URL=redis://127.0.0.1:%s\n' "$(stack_free_port)" "$(stack_free_port)" >"$dead"
CTL_STACK_ENV=$dead ctl dead-text 3 config list
assert_true "grep -q 'from the stack file $dead' '$out/dead-text.err'" "unreachable: the error names the stack file"
CTL_STACK_ENV=$dead ctl dead-json 3 status 1234abcd --format json
json_error dead-json unreachable 3
if [ "$(redis-cli -h 127.0.0.1 -p 6379 PING 2>/dev/null)" != PONG ]; then
  CTL_STACK_ENV=/nonexistent/acms/stack.env ctl nofile 3 config list
  assert_true "grep -q 'looked for /nonexistent/acms/stack.env' '$out/nofile.err'" "no stack file: the error names the file looked for"
fi

# --- JSON errors and --opt=value ---------------------------------------------------------------------
ctl unknown-run 1 status nope-nope --format json
json_error unknown-run unknown_run 1
ctl missing-file 2 validate missing.yaml --env=dev --format=json
json_error missing-file invalid_input 2
ctl bad-option 2 --bogus --format json
json_error bad-option usage 2
ctl no-env 2 validate "$REPO/examples/pipelines/churn-training.yaml" --format json
json_error no-env usage 2
ctl bad-timeout 2 watch abcd --timeout=soon --format=json
json_error bad-timeout usage 2
ctl no-configdir 2 validate x.yaml --env dev --config-dir=/nonexistent --format json
json_error no-configdir config_dir 2
ctl opt-eq 0 validate "$REPO/examples/pipelines/churn-training.yaml" --env=dev --format=json
assert_true "one_json opt-eq 'd[\"valid\"] is True and d[\"environment\"] == \"dev\"'" "--env=dev --format=json accepted"

# --- run ids by prefix -------------------------------------------------------------------------------
ctl submit-ok 0 submit "$REPO/examples/pipelines/parallel-etl.json" --env dev --wait --quiet --format json
run=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$out/submit-ok.out")
ctl by-prefix 0 status "${run:0:8}" --format json
assert_true "one_json by-prefix 'd[\"run_id\"] == \"$run\" and d[\"status\"] == \"succeeded\"'" "status by an 8-character prefix"
ctl too-short 1 status "${run:0:3}"
assert_true "grep -q 'at least 4 characters' '$out/too-short.err'" "a prefix under 4 characters is refused with the reason"
# two runs whose ids share a prefix, started by a third-party publisher (any unique string is a run id)
gen=$STACK_DIR/gen
mkdir -p "$gen"
protoc --python_out="$gen" -I"$REPO/proto" "$REPO"/proto/acms/v1/*.proto
for n in 1 2; do
  "$PY" "$REPO/tests/interop/publish_config.py" --gen "$gen" --brokers "$ACMS_KAFKA_BROKERS" --env dev \
    --run-id "feedcafe-000$n-4000-8000-00000000000$n" "$REPO/examples/pipelines/parallel-etl.json" >/dev/null
done
wait_for 60 "[ \"\$(stack_redis_cli HGET acms:run:feedcafe-0002-4000-8000-000000000002 status)\" = succeeded ]" "published runs ended"
ctl ambiguous 1 status feedcafe
assert_true "grep -q \"prefix 'feedcafe' is ambiguous: 2 runs match\" '$out/ambiguous.err' && grep -q feedcafe-0001 '$out/ambiguous.err' && grep -q feedcafe-0002 '$out/ambiguous.err'" \
  "an ambiguous prefix lists the candidates"
ctl ambiguous-json 1 watch feedcafe --format json
assert_true "one_json ambiguous-json 'd[\"error\"][\"code\"] == \"ambiguous_run\" and len(d[\"error\"][\"details\"][\"candidates\"]) == 2'" \
  "ambiguous prefix as JSON: the candidates in details"
ctl unique-again 0 status feedcafe-0001
assert_true "grep -q 'run        feedcafe-0001-4000-8000-000000000001' '$out/unique-again.out'" "a longer prefix is unique again"

# --- a rejected submit shows what validate shows -----------------------------------------------------
bad=$REPO/examples/pipelines/bad/unknown-field.yaml
ctl reject-adapter 1 submit "$bad" --env dev --wait --quiet
assert_true "grep -q \"^$bad:17:22: error UNKNOWN_FIELD \\[syntax\\] spec.steps\\[1\\].instnace_type\" '$out/reject-adapter.out'" \
  "adapter rejection: file:line:col, code and path"
assert_true "grep -q \"fix (pattern, 75%): did you mean 'instance_type'?\" '$out/reject-adapter.out'" "adapter rejection: the ranked fix"
ctl validate-same 1 validate "$bad" --env dev
assert_true "grep -q \"^$bad:17:22: error UNKNOWN_FIELD\" '$out/validate-same.out'" "validate prints the same line"
assert_true "grep -q 'confidence 0.98' '$out/validate-same.out'" "one unknown field: confidence 0.98, not 0.00"
ctl reject-json 1 submit "$bad" --env dev --wait --format json
assert_true "one_json reject-json 'd[\"status\"] == \"rejected\" and d[\"validation\"][\"issues\"][0][\"line\"] == 17 and d[\"validation\"][\"issues\"][0][\"suggestions\"]'" \
  "submit --wait --format json: the rejection's issues in the run view"
# the validator's rejection: the example's secret://env/CHURN_DB_PASSWORD is not set in this stack
ctl reject-validator 1 submit "$REPO/examples/pipelines/churn-training.yaml" --env dev --wait --quiet
pw_line=$(grep -n 'DB_PASSWORD: "secret://env/CHURN_DB_PASSWORD"' "$REPO/examples/pipelines/churn-training.yaml" | cut -d: -f1)
assert_true "grep -q 'churn-training.yaml:$pw_line:22: error SECRET_UNRESOLVABLE \\[security\\]' '$out/reject-validator.out'" \
  "validator rejection: file:line:col and code"
ctl put 0 config put "$REPO/examples/pipelines/churn-training.yaml"
ctl reject-ref 1 submit --ref churn-trainin --env dev --wait --quiet
assert_true "grep -q \"^churn-trainin: error CONFIG_REF_NOT_FOUND\" '$out/reject-ref.out' && grep -q \"did you mean configuration 'churn-training'\" '$out/reject-ref.out'" \
  "--ref rejection: the did-you-mean it carries"

# --- prepare shows the enforcement matrix per step (common/enforce.c) ---------------------------------
ctl prepare-enf 0 prepare "$REPO/examples/pipelines/churn-training.yaml" --env=staging
assert_true "grep -q '^enforcement per step' '$out/prepare-enf.out'" "prepare shows the enforcement per step"
assert_true "grep -Eq '^  train +local +best-effort +enforced +enforced +NOT ' '$out/prepare-enf.out'" \
  "the GPU training step on local: memory and vCPU enforced, GPUs NOT"
ctl prepare-enf-json 0 prepare "$REPO/examples/pipelines/churn-training.yaml" --env=prod --format=json
assert_true "one_json prepare-enf-json 'len(d[\"enforcement\"]) == len(d[\"pipeline\"][\"steps\"]) and all(e[\"executor\"] == \"local\" and e[\"fields\"][\"encrypt_volume\"] == dict(e[\"fields\"][\"encrypt_volume\"], level=\"not enforced\", requested=True) and e[\"fields\"][\"network_isolation\"][\"level\"] == \"enforced\" for e in d[\"enforcement\"])'" \
  "prepare --format json in prod: every step's encrypt_volume asked for and not enforced, its isolation enforced"

# --- what validate says of a step's promises: a quota clamp, a reserved variable name ---------------
promises=$STACK_DIR/promises.yaml
cat >"$promises" <<'YAML'
apiVersion: acms/v1
kind: Pipeline
metadata: {name: promises}
spec:
  steps:
    - name: wide
      type: processing
      command: ["/bin/true"]
      instance_type: ml.m5.xlarge
      instance_count: 100000
      max_runtime_s: 60
      output_path: s3://acme-ml/it/wide
      tags: {cost-center: cc-1234, owner: ml}
      env:
        ACMS_MODE: fast
YAML
ctl promises-staging 1 validate "$promises" --env=staging
assert_true "grep -q \"^$promises:10:23: warning QUOTA_CLAMPED \\[environment\\] spec.steps\\[0\\].instance_count: instance_count 100000 was clamped to 4 by quotas.max_instances of environment 'staging'\" '$out/promises-staging.out'" \
  "validate shows the quota clamp (old and new value)"
assert_true "grep -q \"^$promises:15:20: error RESERVED_ENV_NAME \\[syntax\\] spec.steps\\[0\\].env.ACMS_MODE\" '$out/promises-staging.out'" \
  "an ACMS_ variable is an error"
assert_true "grep -q 'rename the variable to MODE' '$out/promises-staging.out'" "with a rename"
ctl promises-submit 1 submit "$promises" --env dev --wait --quiet
assert_true "grep -q 'error RESERVED_ENV_NAME' '$out/promises-submit.out'" "a submit with an ACMS_ variable is rejected, not silently dropped"
sed -i '/^      env:$/,$d' "$promises"
ctl promises-prod 1 validate "$promises" --env=prod --format=json
assert_true "one_json promises-prod 'any(i[\"code\"] == \"QUOTA_CLAMPED\" and \"clamped to 16\" in i[\"message\"] for i in d[\"issues\"] + d[\"warnings\"])'" \
  "prod: instance_count 100000 clamped to 16 is a QUOTA_CLAMPED warning"

# --- timeout and cancel --------------------------------------------------------------------------------
ctl timeout 4 submit "$REPO/examples/pipelines/long-running.yaml" --env dev --wait --timeout=1 --format json
json_error timeout timeout 4
long=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["details"]["run_id"])' "$out/timeout.out")
ctl cancel 0 cancel "${long:0:8}" --wait --quiet
ctl watch-cancelled 1 watch "${long:0:8}" --quiet
assert_true "grep -q 'status     cancelled' '$out/watch-cancelled.out'" "watch of a cancelled run prints it and exits 1"
echo "PASS test_acmsctl_cli"
