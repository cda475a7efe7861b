#!/usr/bin/env bash
# Event conventions on the real stack: every event of a run, on every topic of its path, carries the
# CloudEvents Kafka-binding headers (ce_specversion, ce_id, ce_source, ce_type, ce_time,
# content-type: application/protobuf) and the W3C traceparent that acmsctl started, with the same
# trace id from acmsctl through adapter, validator, coordinator, monitor and feedback; every
# service's log lines about the run carry it too. Read with kcat, as any other tool would.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-trace-XXXXXX)"
trap stack_stop EXIT
stack_start_all

cat >"$STACK_DIR/trace.yaml" <<'YAML'
apiVersion: acms/v1
kind: Pipeline
metadata: {name: trace-headers}
spec:
  steps:
    - name: first
      type: processing
      command: ["sh", "-c", "echo one"]
      instance_type: ml.m5.large
      max_runtime_s: 30
      output_path: s3://acme-ml/trace/first
    - name: second
      type: evaluation
      depends_on: [first]
      command: ["true"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/trace/second
YAML

out=$("$BIN/acmsctl" submit "$STACK_DIR/trace.yaml" --env dev --wait --format json --timeout 60)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run succeeded"
tp=$(stack_redis_cli HGET "acms:run:$run" traceparent)
assert_true "printf '%s' '$tp' | grep -Eq '^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]\$'" "acmsctl started a W3C traceparent ($tp)"
trace=$(printf '%s' "$tp" | cut -d- -f2)
# the asynchronous ends of the path: the monitor's session and the feedback record
wait_for 20 "[ \"\$(stack_redis_cli HGET acms:monitor:session:$run status)\" = closed ]" "monitor session closed"
wait_for 30 "[ \$(topic_count_key acms.feedback.insights $run) -ge 1 ]" "feedback insight published"

# every topic once, in parallel (kcat: key TAB headers)
dump=$STACK_DIR/topics
mkdir -p "$dump"
topics="acms.config.submitted acms.config.prepared acms.config.validated acms.validation.results acms.exec.steps
acms.exec.results acms.feedback.insights acms.monitor.alerts acms.exec.adaptations acms.exec.adapted"
for t in $topics; do
  kcat -b "$ACMS_KAFKA_BROKERS" -C -t "$t" -e -o beginning -q -f '%k\t%h\n' >"$dump/$t" 2>/dev/null &
done
wait

# check_topic TOPIC CE_TYPE SOURCE_PREFIX: the run's events on TOPIC; prints their number
check_topic() {
  local topic=$1 type=$2 source=$3 lines
  lines=$(awk -F'\t' -v k="$run" '$1 == k { print $2 }' "$dump/$topic")
  TOPIC=$topic TYPE=$type SOURCE=$source TRACE=$trace python3 -c '
import os, re, sys
lines = [l for l in sys.stdin.read().split("\n") if l]
topic, want_type, want_src, trace = (os.environ[k] for k in ("TOPIC", "TYPE", "SOURCE", "TRACE"))
bad = []
if not lines:
    bad.append("no event of the run")
ids = set()
for l in lines:
    h = dict(kv.split("=", 1) for kv in l.split(",") if "=" in kv)
    def need(cond, what):
        if not cond:
            bad.append("%s: %s" % (what, l))
    need(h.get("ce_specversion") == "1.0", "ce_specversion")
    need(h.get("ce_id"), "ce_id")
    ids.add(h.get("ce_id"))
    need(h.get("ce_type") == want_type, "ce_type != " + want_type)
    need(h.get("ce_source", "").startswith(want_src), "ce_source not " + want_src)
    need(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", h.get("ce_time", "")), "ce_time RFC 3339")
    need(h.get("content-type") == "application/protobuf", "content-type")
    tp = h.get("traceparent", "")
    need(re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", tp), "traceparent format")
    need(tp.split("-")[1:2] == [trace], "trace id != " + trace)
if lines and len(ids) != len(lines):
    bad.append("ce_id repeated within the run: %d ids for %d events" % (len(ids), len(lines)))
for b in bad[:5]:
    print("   ", topic, b, file=sys.stderr)
print(len(lines))
sys.exit(1 if bad else 0)
' <<<"$lines"
}

for spec in \
  "acms.config.submitted acms.v1.ConfigSubmitted /acms/acmsctl" \
  "acms.config.prepared acms.v1.ConfigPrepared /acms/acms-adapter/" \
  "acms.config.validated acms.v1.ConfigValidated /acms/acms-validator/" \
  "acms.validation.results acms.v1.ValidationResultEvent /acms/acms-validator/" \
  "acms.exec.steps acms.v1.StepEvent /acms/acms-coordinator/" \
  "acms.exec.results acms.v1.ExecutionResult /acms/acms-coordinator/" \
  "acms.feedback.insights acms.v1.ExecutionFeedback /acms/acms-feedback/"; do
  set -- $spec
  n=$(check_topic "$1" "$2" "$3") || { echo "FAIL: headers on $1" >&2; exit 1; }
  echo "ok: $1: $n event(s) of the run with CloudEvents headers and trace $trace"
done
# the runtime loop (monitor -> adapter -> coordinator), when it had something to say about this
# run, carries the trace as well
for spec in "acms.monitor.alerts acms.v1.Alert /acms/acms-monitor/" \
  "acms.exec.adaptations acms.v1.AdaptationOpportunity /acms/acms-monitor/" \
  "acms.exec.adapted acms.v1.AdaptedEvent /acms/acms-adapter/"; do
  set -- $spec
  if awk -F'\t' -v k="$run" '$1 == k { f = 1 } END { exit !f }' "$dump/$1"; then
    n=$(check_topic "$1" "$2" "$3") || { echo "FAIL: headers on $1" >&2; exit 1; }
    echo "ok: $1: $n event(s) with the trace"
  fi
done

# every service logged about the run with the trace (JSON lines: "traceparent":"00-<trace>-...")
for s in adapter validator coordinator monitor feedback; do
  n=$(grep -c -F "\"traceparent\":\"00-$trace-" "$STACK_DIR/$s-0.log" || true)
  assert_true "[ $n -ge 1 ]" "acms-$s log lines carry trace $trace ($n)"
done
# and no log line names the run with another trace
others=$(grep -h -F "\"run_id\":\"$run\"" "$STACK_DIR"/*-0.log | grep -F '"traceparent"' | grep -v -c -F "00-$trace-" || true)
assert_eq "$others" 0 "no log line of the run carries another trace"
echo "trace: run $run carried trace $trace and CloudEvents headers on every topic and in every log"
