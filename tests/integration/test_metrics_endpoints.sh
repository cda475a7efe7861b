#!/usr/bin/env bash
# The operations endpoint of every service on the real stack, after one run: /healthz 200,
# /readyz 200, /metrics in the Prometheus text format (parsed strictly by tests/lib/promtext.py:
# HELP/TYPE, label syntax, counters non-negative, histogram buckets monotone with +Inf = _count),
# events in/out per topic, the processing-latency histogram, consumer lag, Redis errors and each
# service's own figures. Then readiness: a replica that joins with zero partitions (one partition
# per topic, three adapters) is ready; /readyz turns 503 while the broker or Redis is away and 200
# again when it is back.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
PROM="$STACK_PY $here/../lib/promtext.py"

stack_init "$(mktemp -d /tmp/acms-metrics-XXXXXX)"
trap stack_stop EXIT
# one partition per topic: a second replica of a service then has nothing assigned
STACK_PARTITIONS=1 stack_start_all

cat >"$STACK_DIR/metrics.yaml" <<'YAML'
apiVersion: acms/v1
kind: Pipeline
metadata: {name: metrics-endpoints}
spec:
  steps:
    - name: only
      type: processing
      command: ["sh", "-c", "echo ok"]
      instance_type: ml.m5.xlarge
      max_runtime_s: 30
      output_path: s3://acme-ml/metrics/only
YAML
out=$("$BIN/acmsctl" submit "$STACK_DIR/metrics.yaml" --env dev --wait --format json --timeout 60)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run succeeded"
wait_for 20 "[ \"\$(stack_redis_cli HGET acms:monitor:session:$run status)\" = closed ]" "monitor session closed"
wait_for 20 "[ -n \"\$(stack_redis_cli HGET acms:feedback:run:$run success)\" ]" "feedback outcome recorded"

url() { echo "http://127.0.0.1:$(cat "$STACK_DIR/$1.port")$2"; }
code() { curl -s -o /dev/null -w '%{http_code}' -m 3 "$@" || true; }
scrape() { curl -fsS -m 3 -o "$STACK_DIR/$1.metrics" "$(url "$1" /metrics)"; }
# metric ID NAME [LABEL=V]...: the summed value from the last scrape of ID ("absent" if none)
metric() { local id=$1; shift; $PROM value "$STACK_DIR/$id.metrics" "$@" || true; }

# consumed topics and own figures per service (name [label=value] must be >= 1 after one run)
declare -A INPUTS=(
  [adapter]="acms.config.submitted acms.exec.adaptations"
  [validator]="acms.config.prepared acms.exec.steps"
  [coordinator]="acms.config.validated acms.exec.adapted acms.control"
  [monitor]="acms.exec.steps"
  [feedback]="acms.exec.results acms.validation.results acms.monitor.alerts")
declare -A CONSUMED=(
  [adapter]="acms.config.submitted" [validator]="acms.config.prepared acms.exec.steps"
  [coordinator]="acms.config.validated" [monitor]="acms.exec.steps"
  [feedback]="acms.exec.results acms.validation.results")
declare -A PRODUCED=(
  [adapter]="acms.config.prepared" [validator]="acms.config.validated acms.validation.results"
  [coordinator]="acms.exec.steps acms.exec.results" [monitor]="" [feedback]="acms.feedback.insights")
declare -A OWN=(
  [adapter]="acms_adapter_prepared_total|acms_adapter_adaptations_applied_total stage=prepare"
  [validator]="acms_validator_validations_total verdict=valid|acms_validator_validation_seconds_count"
  [coordinator]="acms_coord_runs_finished_total|acms_coord_attempts_total"
  [monitor]="acms_monitor_sessions_closed_total"
  [feedback]="acms_feedback_runs_total")

for s in adapter validator coordinator monitor feedback; do
  id=$s-0
  assert_eq "$(curl -fsS -m 3 "$(url "$id" /healthz)")" ok "$id /healthz"
  assert_eq "$(code "$(url "$id" /readyz)")" 200 "$id /readyz"
  assert_eq "$(code "$(url "$id" /nope)")" 404 "$id unknown path 404"
  assert_eq "$(code -X POST "$(url "$id" /metrics)")" 405 "$id POST 405"
  ctype=$(curl -fsS -m 3 -o /dev/null -w '%{content_type}' "$(url "$id" /metrics)")
  assert_true "case '$ctype' in 'text/plain; version=0.0.4'*) true;; *) false;; esac" "$id /metrics content type ($ctype)"
  scrape "$id"
  $PROM check "$STACK_DIR/$id.metrics" || { echo "FAIL: $id /metrics is not valid Prometheus text" >&2; exit 1; }
  for t in ${INPUTS[$s]}; do  # every input series exists from the start, even at zero
    for m in acms_events_in_total acms_events_failed_total acms_deadletters_total; do
      assert_true "[ \"$(metric "$id" $m topic=$t)\" != absent ]" "$id $m{topic=$t} present"
    done
    # the lag gauge appears once the consumer has seen its partitions' watermarks: a quick run can
    # end before that, so scrape again until it is there
    wait_for 20 "scrape $id && [ \"\$(metric $id acms_consumer_lag topic=$t)\" != absent ]" \
      "$id acms_consumer_lag{topic=$t} present"
  done
  for t in ${CONSUMED[$s]}; do
    v=$(metric "$id" acms_events_in_total topic=$t)
    assert_true "[ '$v' != absent ] && [ '$v' -ge 1 ]" "$id acms_events_in_total{topic=$t} = $v"
    v=$(metric "$id" acms_event_processing_seconds_count topic=$t)
    assert_true "[ '$v' != absent ] && [ '$v' -ge 1 ]" "$id processing-latency histogram for $t ($v observations)"
  done
  for t in ${PRODUCED[$s]}; do
    v=$(metric "$id" acms_events_out_total topic=$t)
    assert_true "[ '$v' != absent ] && [ '$v' -ge 1 ]" "$id acms_events_out_total{topic=$t} = $v"
  done
  assert_eq "$(metric "$id" acms_redis_errors_total)" 0 "$id acms_redis_errors_total"
  IFS='|' read -r -a own <<<"${OWN[$s]}"
  for spec in "${own[@]}"; do
    # shellcheck disable=SC2086 # NAME [LABEL=V]
    v=$(metric "$id" $spec)
    assert_true "[ '$v' != absent ] && [ \"\${v%%.*}\" -ge 1 ]" "$id own figure $spec = $v"
  done
done
v=$(metric coordinator-0 acms_coord_runs_active)
assert_eq "$v" 0 "coordinator acms_coord_runs_active back to 0 after the run"

# --- readiness -------------------------------------------------------------------------------
# two more adapters join: with one partition per topic (two input topics) one of the three gets
# none, and is ready anyway
stack_start_service adapter 1
stack_start_service adapter 2
stack_wait_ready 60
for id in adapter-0 adapter-1 adapter-2; do assert_eq "$(code "$(url "$id" /readyz)")" 200 "$id ready"; done
last_assigned() { grep -o 'assigned [0-9]* partition' "$STACK_DIR/$1.log" | tail -n 1 | grep -o '[0-9]*'; }
wait_for 20 "[ \$(( \$(last_assigned adapter-0) + \$(last_assigned adapter-1) + \$(last_assigned adapter-2) )) -eq 2 ]" \
  "the adapters' 2 input partitions split between them"
assert_true "[ \"\$(last_assigned adapter-0)\" = 0 ] || [ \"\$(last_assigned adapter-1)\" = 0 ] || [ \"\$(last_assigned adapter-2)\" = 0 ]" \
  "one adapter has zero partitions (and is ready: above)"

stack_bus_pause   # the devbroker's brokers down, or the Kafka JVM frozen
wait_for 20 "[ \"\$(code $(url validator-0 /readyz))\" = 503 ]" "validator not ready while the broker is down"
stack_bus_resume
wait_for 30 "[ \"\$(code $(url validator-0 /readyz))\" = 200 ]" "validator ready again with the broker back"
assert_eq "$(code "$(url validator-0 /healthz)")" 200 "validator alive throughout"

# feedback must be ready again after the bus pause first: a 503 still due to Kafka would pass the
# check below before feedback has even seen the Redis outage (and counted it)
wait_for 30 "[ \"\$(code $(url feedback-0 /readyz))\" = 200 ]" "feedback ready before the Redis outage"
stack_stop_redis
wait_for 15 "curl -s -m 3 $(url feedback-0 /readyz) | grep -q 'redis unreachable'" "feedback not ready while Redis is down, and says why"
assert_eq "$(code "$(url feedback-0 /readyz)")" 503 "feedback /readyz is 503 while Redis is down"
stack_start_redis
wait_for 20 "[ \"\$(code $(url feedback-0 /readyz))\" = 200 ]" "feedback ready again with Redis back"
scrape feedback-0
v=$(metric feedback-0 acms_redis_errors_total)
assert_true "[ '$v' != absent ] && [ \"\${v%%.*}\" -ge 1 ]" "feedback counted the Redis outage (acms_redis_errors_total = $v)"
echo "metrics: /healthz, /readyz and /metrics of the five services answer; the exposition parses"
