#!/usr/bin/env bash
# Admission by quota across coordinator replicas: with max_active_runs 2 and two coordinators, six
# runs submitted together never run three at once and all finish. The extra four wait as "queued",
# each with its place in line (acmsctl status); the steps of the two admitted runs hold until the
# test releases them, so the queue is observed, not guessed. Overlap is computed from the steps'
# recorded start and end times.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
stack_init "$(mktemp -d /tmp/acms-admit-XXXXXX)"
trap stack_stop EXIT
export ACMS_CONFIG_DIR=$STACK_DIR/config
cp -r "$ACMS_REPO/examples" "$ACMS_CONFIG_DIR"
sed -e 's/^metadata: {name: dev}/metadata: {name: quota}/' -e 's/max_active_runs: 20/max_active_runs: 2/' \
  "$ACMS_REPO/examples/environments/dev.yaml" >"$ACMS_CONFIG_DIR/environments/quota.yaml"
stack_start_all
stack_start_service coordinator 1
stack_wait_ready

cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: admission}
spec:
  steps:
    - name: work
      type: processing
      command: ["/bin/sh", "-c", "while [ ! -e $STACK_SHARED/release ]; do sleep 0.05; done; sleep 0.5"]
      instance_type: ml.t3.medium
      max_runtime_s: 300
      max_attempts: 1
      output_path: s3://acme-ml/it/admission
YAML
runs=()
for i in 1 2 3 4 5 6; do runs+=("$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env quota --quiet)"); done
count() { local n=0 r; for r in "${runs[@]}"; do [ "$(stack_redis_cli HGET "acms:run:$r" status)" = "$1" ] && n=$((n + 1)); done; echo $n; }
wait_for 120 "[ \$(count running) -eq 2 ] && [ \$(count queued) -eq 4 ]" "two runs admitted, four queued"
positions=""
for r in "${runs[@]}"; do
  st=$("$BIN/acmsctl" status "$r" --format json)
  if [ "$(json_get "$st" status)" = queued ]; then positions="$positions $(json_get "$st" queue_position)"; fi
  echo "run $r: $(json_get "$st" status) owner $(json_get "$st" owner)"
done
assert_eq "$(printf '%s\n' $positions | sort -n | tr '\n' ' ')" "1 2 3 4 " "the queued runs hold places 1..4"
q=""
for r in "${runs[@]}"; do [ "$(stack_redis_cli HGET "acms:run:$r" status)" = queued ] && q=$r; done
assert_true "\"$BIN/acmsctl\" status $q | grep -q '^queue      position [1-4] in quota; waiting for a run slot: environment quota allows max_active_runs 2'" \
  "acmsctl status shows a queued run's place and why"
assert_eq "$(stack_redis_cli ZCARD acms:quota:quota:runs)" 2 "two slots taken in Redis"
touch "$STACK_SHARED/release"
for r in "${runs[@]}"; do
  wait_for 120 "[ \"\$(stack_redis_cli HGET acms:run:$r status)\" = succeeded ]" "run $r finished"
done
intervals=""
for r in "${runs[@]}"; do
  intervals="$intervals $(stack_redis_cli HGET "acms:run:$r:step:work" started_ms):$(stack_redis_cli HGET "acms:run:$r:step:work" finished_ms)"
done
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
assert_true "[ $most -le 2 ]" "never more than two runs' steps at once ($most)"
owners=$(for r in "${runs[@]}"; do stack_redis_cli HGET "acms:run:$r" owner; done | sort | uniq -c | tr '\n' ' ')
echo "owners: $owners"
assert_eq "$(stack_redis_cli ZCARD acms:quota:quota:runs)" 0 "every slot released"
assert_eq "$(stack_redis_cli ZCARD acms:quota:quota:queue)" 0 "the queue is empty"
echo "admission: max_active_runs 2 held across two coordinators; six runs finished"
