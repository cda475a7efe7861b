#!/usr/bin/env bash
# The monitoring loop on the real stack: twenty stable runs of a pipeline raise no alert; after that
# baseline, a run whose step is ten times slower raises exactly one alert, on acms.monitor.alerts and
# at a loopback Alertmanager webhook receiver; a step using 95% of its memory limit yields an
# adaptation opportunity that the adapter acts on for the step's next attempt. "Nothing more came" is
# checked once the monitor's group has committed every step event sent so far (monitor_caught_up),
# not after a sleep.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-mon-XXXXXX)"
trap 'kill $hook_pid 2>/dev/null || true; stack_stop' EXIT
hook_pid=
coproc HOOK { exec /usr/bin/python3 "$here/../lib/webhook_receiver.py" "$STACK_DIR/webhook.jsonl" 2>>"$STACK_DIR/webhook.log"; }
hook_pid=$HOOK_PID
read -r hook_port <&"${HOOK[0]}"
export ACMS_ALERT_WEBHOOKS="http://127.0.0.1:$hook_port/alerts"
stack_start_all

# the marker: the monitor handled every step event on the bus now (an offset is committed only after
# its event's alerts were acknowledged and its webhook call returned)
monitor_caught_up() {
  "$STACK_PY" "$here/../lib/group_caught_up.py" --brokers "$ACMS_KAFKA_BROKERS" --group acms-monitor --timeout 60 \
    acms.exec.steps
}

pipeline() { # name sleep_ms mem_mb limit_mb
  cat <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: $1, labels: {team: ml, owner: ci}}
spec:
  steps:
    - name: score
      type: evaluation
      command: ["$BIN/acms-stepload", "--sleep-ms", "$2", "--mem-mb", "$3"]
      instance_type: ml.m5.large
      memory_mb: $4
      max_runtime_s: 60
      max_attempts: 1
      output_path: s3://acme-ml/mon/$1
      tags: {cost-center: cc-1}
YAML
}
pipeline steady 400 8 256 >"$STACK_DIR/steady.yaml"
pipeline steady 4000 8 256 >"$STACK_DIR/slow.yaml"
pipeline hungry 1500 121 128 >"$STACK_DIR/hungry.yaml"

# 1. twenty stable runs, five at a time
runs=()
for batch in 1 2 3 4; do
  pids=()
  for i in 1 2 3 4 5; do
    "$BIN/acmsctl" submit "$STACK_DIR/steady.yaml" --env dev --wait --format json --timeout 120 \
      >"$STACK_DIR/steady-$batch-$i.json" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
done
for f in "$STACK_DIR"/steady-*.json; do
  assert_eq "$(json_get "$(cat "$f")" status)" succeeded "stable run $(basename "$f")"
done
wait_for 20 "[ \$(stack_redis_cli HGET acms:monitor:baseline:steady:score n) -ge 20 ] 2>/dev/null || \
  [ \$(stack_redis_cli HLEN acms:monitor:baseline:steady:score) -gt 0 ]" "baseline recorded"
assert_true monitor_caught_up "the monitor handled the twenty runs' step events"
assert_eq "$(topic_count acms.monitor.alerts)" 0 "no alert after twenty stable runs"
assert_eq "$( [ -f "$STACK_DIR/webhook.jsonl" ] && wc -l <"$STACK_DIR/webhook.jsonl" || echo 0)" 0 "no webhook call"

# 2. ten times slower: exactly one alert, on the topic and at the webhook
out=$("$BIN/acmsctl" submit "$STACK_DIR/slow.yaml" --env dev --wait --format json --timeout 120)
slow=$(json_get "$out" run_id)
wait_for 20 "[ \$(topic_count_key acms.monitor.alerts $slow) -ge 1 ]" "alert for the slow run on the topic"
wait_for 20 "[ -f $STACK_DIR/webhook.jsonl ] && grep -q $slow $STACK_DIR/webhook.jsonl" "alert at the webhook"
assert_true monitor_caught_up "the monitor handled the slow run's step events"
assert_eq "$(topic_count_key acms.monitor.alerts "$slow")" 1 "exactly one alert on the topic"
assert_eq "$(grep -c "$slow" "$STACK_DIR/webhook.jsonl")" 1 "exactly one webhook delivery"
assert_eq "$(topic_count acms.monitor.alerts)" 1 "no other alert"
assert_true "grep -q StepDurationAnomaly $STACK_DIR/webhook.jsonl" "the alert names the duration anomaly"
assert_true "python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); assert d[\"version\"]==\"4\" and d[\"alerts\"][0][\"status\"]==\"firing\"' $STACK_DIR/webhook.jsonl" "Alertmanager webhook shape"

# 3. a step at 95% of its memory limit: opportunity -> adapter -> applied to the next attempt
out=$("$BIN/acmsctl" submit "$STACK_DIR/hungry.yaml" --env dev --wait --format json --timeout 120)
hungry=$(json_get "$out" run_id)
wait_for 20 "[ \$(topic_count_key acms.exec.adaptations $hungry) -ge 1 ]" "memory opportunity published"
wait_for 20 "[ \$(topic_count_key acms.exec.adapted $hungry) -ge 1 ]" "the adapter applied it"
wait_for 10 "[ -n \"\$(stack_redis_cli HGET acms:run:$hungry:step:score override_memory_mb)\" ]" \
  "the coordinator holds the new limit for the next attempt"
new=$(stack_redis_cli HGET "acms:run:$hungry:step:score" override_memory_mb)
assert_true "[ $new -gt 128 ]" "next attempt gets more memory ($new MiB > 128 MiB)"
assert_true "stack_redis_cli LRANGE acms:run:$hungry:adaptations 0 -1 | grep -q '\"stage\":\"runtime\"'" "runtime adaptation recorded"
echo "monitor: 20 stable runs 0 alerts; 10x slower run 1 alert (topic + webhook); 95% memory -> next attempt $new MiB"
