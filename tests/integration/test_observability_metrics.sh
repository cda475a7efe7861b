#!/usr/bin/env bash
# The Grafana dashboard and the Prometheus alert rules of deploy/observability against a real stack
# (tests/lib/check_observability.py): after runs that succeed, fail, get a step killed for memory,
# are rejected, and a poison event, every service's /metrics is scraped (valid Prometheus text), and
# every metric name the dashboard's panels and the rules' expressions use must be in a scrape; the
# dashboard and the PrometheusRule must have their expected shape and balanced expressions. The
# health gauges follow the probes: a service whose Redis is gone turns acms_service_ready 0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
PROM="$STACK_PY $here/../lib/promtext.py"

stack_init "$(mktemp -d /tmp/acms-observability-XXXXXX)"
trap stack_stop EXIT
stack_start_all
stack_start_service console 0
stack_wait_ready 30

cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: observability-$$}
spec:
  steps:
    - {name: ok, type: processing, command: ["true"], instance_type: ml.t3.medium, output_path: s3://acme-ml/it/ok}
    - name: hungry
      type: processing
      command: ["$BIN/acms-stepload", "--mem-mb", "150", "--cpu-ms", "50"]
      instance_type: ml.t3.medium
      memory_mb: 64
      max_attempts: 1
      optional: true
      depends_on: [ok]
      output_path: s3://acme-ml/it/hungry
    - {name: broken, type: processing, command: ["sh", "-c", "exit 3"], instance_type: ml.t3.medium,
       max_attempts: 1, depends_on: [ok], output_path: s3://acme-ml/it/broken}
YAML
rc=0
out=$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env dev --wait --format json --timeout 120) || rc=$?
run=$(json_get "$out" run_id)
assert_eq "$rc/$(json_get "$out" status)" 1/failed "a run fails (and a step is killed for memory)"
rc=0
"$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env no-such-env --wait --quiet >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "a submission for an unknown environment is rejected"
printf 'not a protobuf' | kcat -b "$ACMS_KAFKA_BROKERS" -P -t acms.config.submitted -k poison-$$ 2>/dev/null
wait_for 30 "[ -n \"\$(stack_redis_cli HGET acms:feedback:run:$run success)\" ]" "the feedback service has the run"
wait_for 30 "[ \"\$(stack_redis_cli HGET acms:monitor:session:$run status)\" = closed ]" "the monitoring session is closed"

scrape() { curl -fsS -m 3 -o "$STACK_DIR/$1.metrics" "http://127.0.0.1:$(cat "$STACK_DIR/$1.port")/metrics"; }
# the adapter's dead letter of the poison event, and the series a scrape brings (lag, health)
wait_for 30 "scrape adapter-0 && [ \"\$($PROM value $STACK_DIR/adapter-0.metrics acms_deadletters_total topic=acms.config.submitted)\" != 0 ]" \
  "the poison event was dead-lettered"
scrapes=()
for id in adapter-0 validator-0 coordinator-0 monitor-0 feedback-0 console-0; do
  wait_for 30 "scrape $id && grep -q '^acms_service_healthy 1' $STACK_DIR/$id.metrics" "$id: healthy, as /metrics says"
  $PROM check "$STACK_DIR/$id.metrics" || { echo "FAIL: $id /metrics is not valid Prometheus text" >&2; exit 1; }
  scrapes+=("$STACK_DIR/$id.metrics")
done
wait_for 30 "scrape coordinator-0 && grep -q '^acms_coord_step_duration_seconds_bucket{reason=\"MEMORY\",le=\"1\"}' $STACK_DIR/coordinator-0.metrics" \
  "the step durations, by exit reason, in seconds-to-hours buckets"
scrape coordinator-0
"$STACK_PY" "$here/../lib/check_observability.py" "$REPO/deploy/observability/grafana-dashboard.json" \
  "$REPO/deploy/observability/prometheus-rules.yaml" "${scrapes[@]}"
echo "ok: every metric of the dashboard and the rules is in the services' /metrics"

# the readiness gauge follows the probe: Redis gone, the services say so in /metrics
stack_stop_redis
wait_for 30 "scrape feedback-0 && grep -q '^acms_service_ready 0' $STACK_DIR/feedback-0.metrics" \
  "acms_service_ready turns 0 while Redis is away"
stack_start_redis
wait_for 30 "scrape feedback-0 && grep -q '^acms_service_ready 1' $STACK_DIR/feedback-0.metrics" "and 1 again"
