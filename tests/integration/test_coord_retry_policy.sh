#!/usr/bin/env bash
# Retries users expect: a flaky step (fails once, then succeeds) with max_attempts 3 succeeds on
# attempt 2 under the default retry_policy (on_failure), after its backoff (retry_backoff_s 1: at
# least the fixed half, 500 ms); the same failure under retry_policy on_error is not retried, and
# its recovery says why.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
stack_init "$(mktemp -d /tmp/acms-retry-XXXXXX)"
trap stack_stop EXIT
stack_start_all

flaky='if [ -e "$1/$ACMS_RUN_ID.$ACMS_STEP" ]; then echo recovered; exit 0; fi; : > "$1/$ACMS_RUN_ID.$ACMS_STEP"; echo "connection reset by peer" >&2; exit 1'
cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: retry-policy}
spec:
  steps:
    - name: flaky
      type: processing
      command: ["/bin/sh", "-c", '$flaky', "flaky", "$STACK_SHARED"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      max_attempts: 3
      retry_backoff_s: 1
      output_path: s3://acme-ml/it/flaky
    - name: strict
      type: processing
      optional: true
      command: ["/bin/sh", "-c", '$flaky', "strict", "$STACK_SHARED"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      max_attempts: 3
      retry_policy: on_error
      output_path: s3://acme-ml/it/strict
YAML
"$BIN/acmsctl" validate "$STACK_DIR/p.yaml" --env dev >/dev/null
out=$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env dev --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run succeeded"
a=$(stack_redis_cli HGET "acms:run:$run:step:flaky" attempts)
echo "flaky attempt 1: $(json_get "$a" 0.cause); $(json_get "$a" 0.recovery)"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:flaky" status)" succeeded "the flaky step succeeded"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:flaky" attempt)" 2 "on attempt 2"
assert_eq "$(json_get "$a" 0.reason)" NONZERO "attempt 1 exited non-zero"
assert_true "json_get '$a' 0.recovery | grep -q 'on_failure'" "retried under on_failure"
gap=$(( $(json_get "$a" 1.started_ms) - $(json_get "$a" 0.finished_ms) ))
assert_true "[ $gap -ge 500 ]" "attempt 2 waited its backoff ($gap ms >= 500)"
s=$(stack_redis_cli HGET "acms:run:$run:step:strict" attempts)
echo "strict attempt 1: $(json_get "$s" 0.recovery)"
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:strict" attempt)" 1 "on_error: an exit code is not retried"
assert_true "json_get '$s' 0.recovery | grep -q 'retry_policy on_error retries only'" "and says why"
echo "retries: on_failure retried the flaky step once, on_error left the exit code alone"
