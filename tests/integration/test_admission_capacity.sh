#!/usr/bin/env bash
# Admission by quota, steps: an environment's max_total_instances holds over the running steps of
# all its runs, across two coordinator replicas. Two runs of two parallel steps each under
# max_total_instances 3: three steps run, the fourth waits for capacity (its message says so) until
# the test releases the others, and all four finish. Overlap is computed from the steps' recorded
# start and end times, never from a wait.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
stack_init "$(mktemp -d /tmp/acms-capacity-XXXXXX)"
trap stack_stop EXIT
export ACMS_CONFIG_DIR=$STACK_DIR/config
cp -r "$ACMS_REPO/examples" "$ACMS_CONFIG_DIR"
sed -e 's/^metadata: {name: dev}/metadata: {name: cap}/' -e 's/max_total_instances: 8/max_total_instances: 3/' \
  "$ACMS_REPO/examples/environments/dev.yaml" >"$ACMS_CONFIG_DIR/environments/cap.yaml"
assert_true "grep -q 'max_total_instances: 3' $ACMS_CONFIG_DIR/environments/cap.yaml" "environment cap allows 3 instances"
stack_start_all
stack_start_service coordinator 1
stack_wait_ready

step() {
  printf '    - name: %s\n      type: processing\n      instance_type: ml.t3.medium\n' "$1"
  printf '      command: ["/bin/sh", "-c", "while [ ! -e %s/release ]; do sleep 0.05; done"]\n' "$STACK_SHARED"
  printf '      max_runtime_s: 300\n      max_attempts: 1\n      output_path: s3://acme-ml/it/%s\n' "$1"
}
{ printf 'apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: capacity}\nspec:\n  steps:\n'
  step left; step right; } >"$STACK_DIR/p.yaml"
runs=()
for _ in 1 2; do runs+=("$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env cap --quiet)"); done
st() { stack_redis_cli HGET "acms:run:$1:step:$2" "${3:-status}"; }
count() { local n=0 r s; for r in "${runs[@]}"; do for s in left right; do [ "$(st "$r" "$s")" = "$1" ] && n=$((n + 1)); done; done; echo $n; }
waiting() { local r s; for r in "${runs[@]}"; do for s in left right; do
  st "$r" "$s" message | grep -q '^waiting for capacity' && echo "$r $s"; done; done; }
wait_for 120 "[ \$(count running) -eq 3 ] && [ -n \"\$(waiting)\" ]" "three steps running, one waiting for capacity"
read -r wr ws <<<"$(waiting)"
echo "waiting: run $wr step $ws: $(st "$wr" "$ws" message)"
assert_true "st $wr $ws message | grep -q 'environment cap has 3 of 3 instances'" "the waiting step says why"
assert_eq "$(count running)" 3 "still three running: the fourth did not start"
assert_eq "$(stack_redis_cli HLEN acms:quota:cap:steps)" 3 "three step reservations in Redis"
touch "$STACK_SHARED/release"
for r in "${runs[@]}"; do
  wait_for 120 "[ \"\$(stack_redis_cli HGET acms:run:$r status)\" = succeeded ]" "run $r finished"
done
intervals=""
for r in "${runs[@]}"; do for s in left right; do intervals="$intervals $(st "$r" "$s" started_ms):$(st "$r" "$s" finished_ms)"; done; done
# shellcheck disable=SC2086 # one argument per interval
most=$("$STACK_PY" -c '
import sys
ev = []
for iv in sys.argv[1:]:
    a, b = map(int, iv.split(":"))
    ev += [(a, 1), (b, -1)]
cur = best = 0
for _, d in sorted(ev, key=lambda e: (e[0], e[1])):
    cur += d; best = max(best, cur)
print(best)' $intervals)
assert_true "[ $most -le 3 ]" "never more than three steps at once ($most)"
assert_true "[ $(st "$wr" "$ws" started_ms) -ge \$(for r in ${runs[*]}; do for s in left right; do st \$r \$s finished_ms; done; done | sort -n | head -n 1) ]" \
  "the waiting step started only once another had finished"
assert_eq "$(stack_redis_cli HLEN acms:quota:cap:steps)" 0 "every step reservation released"
echo "admission: max_total_instances 3 held over two runs on two coordinators; all four steps finished"
