#!/usr/bin/env bash
# A 2000-step pipeline on the real stack: its ConfigSubmitted and prepared/validated events are
# larger than the bus limit (ACMS_BUS_MAX_BYTES), so they travel by reference (claim check,
# acms:claim:<sha256> in Redis, verified by each consumer): the run succeeds, no partition is wedged,
# and 24 runs submitted right after it all finish. The durations are printed (docs/bus.md "Sizes"
# records them), never asserted. LARGE_STEPS overrides the 2000 (up to the 5000-step limit).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-large-XXXXXX)"
trap stack_stop EXIT
export CHURN_DB_PASSWORD="pw-$RANDOM-$$"   # churn-training's secret://env reference
stack_start_all
# under ASan (make test-asan) 1000 steps: still above the bus limit once prepared (about 2 MB)
case "$BIN" in *build-asan*) steps=${LARGE_STEPS:-1000} ;; *) steps=${LARGE_STEPS:-2000} ;; esac
"$STACK_PY" "$here/../lib/gen_pipeline.py" "large-$steps" "$steps" >"$STACK_DIR/large.yaml"

t0=$(date +%s%N)
out=$("$BIN/acmsctl" submit "$STACK_DIR/large.yaml" --env dev --format json) || fail "large submit: $out"
run=$(json_get "$out" run_id)
runs=()
for _ in $(seq 1 24); do  # right after it: on the same partitions, behind it
  out=$("$BIN/acmsctl" submit "$REPO/examples/pipelines/churn-training.yaml" --env dev --format json)
  runs+=("$(json_get "$out" run_id)")
done
out=$("$BIN/acmsctl" watch "$run" --timeout 600 --format json 2>/dev/null || true)
t1=$(date +%s%N)
assert_eq "$(stack_redis_cli HGET "acms:run:$run" status)" succeeded "the $steps-step run succeeded"
assert_eq "$(stack_redis_cli HGET "acms:run:$run" steps_done)" "$steps" "all $steps steps done"
for r in "${runs[@]}"; do
  wait_for 300 "[ \"\$(stack_redis_cli HGET acms:run:$r status)\" = succeeded ]" "run $r behind it succeeded"
done
t2=$(date +%s%N)
claims=$(curl -fsS -m 3 "http://127.0.0.1:$(cat "$STACK_DIR/validator-0.port")/metrics" |
  sed -n 's/^acms_claims_in_total{topic="acms.config.prepared"} //p')
assert_true "[ \"\${claims:-0}\" -ge 1 ]" "the prepared configuration came by reference (acms_claims_in_total = ${claims:-0})"
for s in $STACK_SERVICES_ALL; do
  assert_true "[ -n \"\$(stack__pid $s-0)\" ]" "acms-$s still running"
done
echo "large: $steps steps in $(( (t1 - t0) / 1000000 )) ms on $(stack_bus); 24 runs behind it done after $(( (t2 - t0) / 1000000 )) ms"
