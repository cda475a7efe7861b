#!/usr/bin/env bash
# Horizontal scaling on one machine, as `make up REPLICAS=2` runs it: two replicas of every service
# in one consumer group per service. The input partitions split between the two replicas of each
# service (their "assigned N partition(s)" log lines add up to all partitions, both non-zero); 30
# runs submitted at once all succeed; both replicas of every service consumed events (their
# /metrics); each run has exactly one execution result, and no step attempt ran twice (the
# coordinators' Redis leases: each attempt appends one line to a file when it starts). Round-robin
# assignment, set through ACMS_KAFKA_PROP_PARTITION_ASSIGNMENT_STRATEGY (docs/bus.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
PROM="$STACK_PY $here/../lib/promtext.py"
RUNS=${REPLICA_RUNS:-30}
PARTS=6

stack_init "$(mktemp -d /tmp/acms-replicas-XXXXXX)"
trap stack_stop EXIT
# The default cooperative-sticky assignor balances the number of partitions per member, not per
# topic (a replica may hold every partition of one topic and none of another: docs/bus.md). Spread
# per topic is what this test is about, so the replicas take round-robin through the pass-through
# properties (which this also checks: the eager path of the rebalance callback).
export ACMS_KAFKA_PROP_PARTITION_ASSIGNMENT_STRATEGY=roundrobin
STACK_PARTITIONS=$PARTS REPLICAS=2 stack_start_all
assert_eq "$(grep -c . "$STACK_DIR/services")" 10 "service processes (5 services x 2 replicas)"

declare -A NINPUTS=([adapter]=2 [validator]=2 [coordinator]=3 [monitor]=1 [feedback]=3)
last_assigned() { grep -o 'assigned [0-9]* partition' "$STACK_DIR/$1.log" | tail -n 1 | grep -o '[0-9]*' || echo 0; }
split_ok() {
  local s=$1 a b
  a=$(last_assigned "$s-0") b=$(last_assigned "$s-1")
  [ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ $((a + b)) -eq $((NINPUTS[$s] * PARTS)) ]
}
for s in adapter validator coordinator monitor feedback; do
  wait_for 30 "split_ok $s" "acms-$s: $((NINPUTS[$s] * PARTS)) partitions split between 2 replicas"
  echo "    $s-0: $(last_assigned "$s-0"), $s-1: $(last_assigned "$s-1")"
done

touch_file=$STACK_SHARED/attempts.log
: >"$touch_file"
chmod 0666 "$touch_file"  # steps append to it as the step user
cat >"$STACK_DIR/scale.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: replicas}
spec:
  steps:
    - name: one
      type: processing
      command: ["$BIN/acms-stepload", "--touch", "$touch_file", "--sleep-ms", "100"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/replicas/one
    - name: two
      type: processing
      depends_on: [one]
      command: ["$BIN/acms-stepload", "--touch", "$touch_file", "--sleep-ms", "100"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/replicas/two
YAML

runs_file=$STACK_DIR/runs.txt
: >"$runs_file"
seq 1 "$RUNS" | xargs -P 3 -I{} sh -c '"$1" submit "$2" --env dev --quiet >>"$3" 2>>"$4" || echo "submit {} failed" >>"$4"' \
  sh "$BIN/acmsctl" "$STACK_DIR/scale.yaml" "$runs_file" "$STACK_DIR/submit.err"
assert_eq "$(wc -l <"$runs_file")" "$RUNS" "runs submitted"

succeeded() {
  local n=0 run
  while read -r run; do
    [ "$(stack_redis_cli HGET "acms:run:$run" status)" = succeeded ] && n=$((n + 1))
  done <"$runs_file"
  echo "$n"
}
wait_for 90 "[ \$(succeeded) -eq $RUNS ]" "all $RUNS runs succeeded"
wait_for 30 "[ \$(kcat -b \$ACMS_KAFKA_BROKERS -C -t acms.feedback.insights -e -o beginning -q -f 'x\n' 2>/dev/null | wc -l) -ge $RUNS ]" \
  "feedback for every run"

kcat -b "$ACMS_KAFKA_BROKERS" -C -t acms.exec.results -e -o beginning -q -f '%k\n' 2>/dev/null | sort >"$STACK_DIR/results.keys"
assert_eq "$(wc -l <"$STACK_DIR/results.keys")" "$RUNS" "acms.exec.results messages"
assert_eq "$(sort -u "$STACK_DIR/results.keys" | wc -l)" "$RUNS" "distinct runs with a result"
assert_eq "$(sort "$touch_file" | uniq -d | wc -l)" 0 "step attempts started twice"
assert_eq "$(wc -l <"$touch_file")" $((RUNS * 2)) "step attempts (one per step, none repeated)"

# both replicas of every service did part of the work
for s in adapter validator coordinator monitor feedback; do
  for i in 0 1; do
    curl -fsS -m 3 -o "$STACK_DIR/$s-$i.metrics" "http://127.0.0.1:$(cat "$STACK_DIR/$s-$i.port")/metrics"
    $PROM check "$STACK_DIR/$s-$i.metrics" >/dev/null || { echo "FAIL: $s-$i /metrics invalid" >&2; exit 1; }
    v=$($PROM value "$STACK_DIR/$s-$i.metrics" acms_events_in_total || true)
    assert_true "[ '$v' != absent ] && [ '$v' -ge 1 ]" "$s-$i consumed $v event(s)"
  done
done
c0=$($PROM value "$STACK_DIR/coordinator-0.metrics" acms_coord_runs_finished_total || echo 0)
c1=$($PROM value "$STACK_DIR/coordinator-1.metrics" acms_coord_runs_finished_total || echo 0)
[ "$c0" = absent ] && c0=0
[ "$c1" = absent ] && c1=0
assert_eq "$((c0 + c1))" "$RUNS" "runs finished by the two coordinators together ($c0 + $c1)"
assert_true "[ $c0 -ge 1 ] && [ $c1 -ge 1 ]" "both coordinators executed runs"
echo "replicas: $RUNS runs over 2 replicas of each service, each executed once"
