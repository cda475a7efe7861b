#!/usr/bin/env bash
# Retention of finished runs on the real stack (common/retention.h, docs/operations.md).
# Phase 1, ACMS_RUN_RETENTION_S=5 on every service: a run whose step is killed for memory (so the
# monitor's alert, the validator's runtime finding and the feedback record are written by three
# services, some of them after the run ended) has every key with an expiry once it ends (each key
# naming the run is of a family the test lists, and each family it writes is there), and after
# it every key of the run is gone while the pipeline's learned keys (statistics, recommendation,
# baselines) stay; acms:runs no longer lists it; `acmsctl status` says it expired and names the
# topics that hold its history. Then every event of the run is replayed on the bus (a consumer-group
# reset, as far as the services can tell): once each service has consumed its copies, no key of the
# run has come back and no key naming it lacks an expiry.
# Phase 1b, ACMS_RUN_RETENTION_S=600: the same pipeline again; every key naming the run is of a family
# the test lists (a new family fails it until listed here and in retention.h), every family the run
# writes is there, and each expires with the run (the lease and alert rate limits: their own, <= 1 day).
# Phase 2, the services restarted with ACMS_RUN_RETENTION_S=600 and ACMS_RUN_COMPACT_S=1: the
# example pipeline (examples/pipelines/churn-training.yaml) is compacted to its summary, measured
# (MEMORY USAGE of every key the run keeps, log tails included) at 10 KiB or less, and reads back
# the same through `acmsctl status` and `acmsctl logs`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
PROM="$STACK_PY $here/../lib/promtext.py"

stack_init "$(mktemp -d /tmp/acms-retention-XXXXXX)"
trap stack_stop EXIT
export ACMS_RUN_RETENTION_S=5 CHURN_DB_PASSWORD=retention-pw-$$
stack_start_all

ctl() { "$BIN/acmsctl" "$@"; }
run_keys() { # the run's state: its own keys (retention.h)
  stack_redis_cli --scan --pattern "acms:run:$1*"
  stack_redis_cli --scan --pattern "acms:monitor:session:$1"
  stack_redis_cli --scan --pattern "acms:feedback:run*:$1"
}
# Every family of keys that names a run (R), as the services write them. A key naming the run that
# matches none of them fails the test: a new family must be added here and to retention.h.
#   expires with the run: the families acms_run_keys lists (retention.h);
#   own expiry: the run's lease (the coordinator's, PX while it owns the run) and the monitor's rate
#   limits of its alerts (acms:monitor:alerted:<kind>/<run>/<step>/<attempt>, the alert's window).
family_of() { # KEY RUN -> the family's name, or nothing
  local k=${1//$2/R}
  case "$k" in
    acms:run:R) echo run ;;
    acms:run:R:runtime | acms:run:R:steps | acms:run:R:adaptations | acms:run:R:validation | \
      acms:run:R:findings | acms:run:R:alerts | acms:run:R:cancel | acms:run:R:rtonce | acms:run:R:live) echo "${k#acms:run:R:}" ;;
    acms:run:R:step:*) echo step ;;
    acms:run:R:log:*:*) echo log ;;
    acms:monitor:session:R) echo monitor-session ;;
    acms:feedback:run:R) echo feedback-run ;;
    acms:feedback:runfixes:R) echo feedback-runfixes ;;
    acms:lease:R) echo lease ;;
    acms:monitor:alerted:*/R/*) echo alerted ;;
  esac
}
OWN_TTL_MAX_MS=86400000 # the lease and the monitor's alert rate limits: each their own expiry, at most a day
# the families the phase-1b run writes (not its cancel flag or fix credits: it is not cancelled and no
# fix is credited to it; tests/unit/test_common_retention.c covers those)
PHASE1_FAMILIES="run runtime steps adaptations validation findings alerts rtonce step log monitor-session feedback-run"
families_checked() { # RUN MAX_MS: every key naming the run is of a known family, expires within MAX_MS
  local k f t max seen=" " ok=0
  for k in $(stack_redis_cli --scan --pattern "*$1*"); do
    f=$(family_of "$k" "$1")
    t=$(stack_redis_cli PTTL "$k")
    if [ -z "$f" ]; then echo "a key of no known family: $k (PTTL $t)" >&2; ok=1; continue; fi
    seen="$seen$f "
    max=$2
    case "$f" in lease | alerted) max=$OWN_TTL_MAX_MS ;; esac
    if [ "$t" -le 0 ] || [ "$t" -gt "$max" ]; then echo "$k: PTTL $t, want 1..$max" >&2; ok=1; fi
  done
  for f in $PHASE1_FAMILIES; do
    case "$seen" in *" $f "*) ;; *) echo "no key of family $f" >&2; ok=1 ;; esac
  done
  echo "families: $seen" >&2
  return $ok
}
no_key_without_expiry() { # every key whose name holds the run id has an expiry
  local k
  for k in $(stack_redis_cli --scan --pattern "*$1*"); do
    [ "$(stack_redis_cli PTTL "$k")" != -1 ] || { echo "no expiry: $k" >&2; return 1; }
  done
}
declare -A BASE=()  # messages on each topic when the services (re)started: consumed before
consumed() { # SERVICE TOPIC: the service has consumed every message on the topic
  curl -fsS -m 3 -o "$STACK_DIR/$1.metrics" "http://127.0.0.1:$(cat "$STACK_DIR/$1-0.port")/metrics" &&
    [ "$($PROM value "$STACK_DIR/$1.metrics" acms_events_in_total topic="$2" | cut -d. -f1)" = \
      "$(( $(topic_count "$2") - ${BASE[$2]:-0} ))" ]
}
all_consumed() {
  consumed adapter acms.config.submitted && consumed adapter acms.exec.adaptations &&
    consumed validator acms.config.prepared && consumed validator acms.exec.steps &&
    consumed coordinator acms.config.validated && consumed coordinator acms.exec.adapted &&
    consumed monitor acms.exec.steps && consumed feedback acms.exec.results &&
    consumed feedback acms.validation.results && consumed feedback acms.monitor.alerts
}

pipeline=retention-$$
cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: $pipeline}
spec:
  steps:
    - {name: prepare, type: processing, command: ["sh", "-c", "echo prepared"], instance_type: ml.t3.medium, output_path: s3://acme-ml/it/prep}
    - name: hungry
      type: processing
      command: ["$BIN/acms-stepload", "--mem-mb", "150", "--cpu-ms", "50"]
      instance_type: ml.t3.medium
      memory_mb: 64
      max_attempts: 1
      optional: true
      depends_on: [prepare]
      output_path: s3://acme-ml/it/hungry
YAML

# --- phase 1: a finished run's keys expire, whoever wrote them last ------------------------------
rc=0
out=$(ctl submit "$STACK_DIR/p.yaml" --env dev --wait --format json --timeout 120) || rc=$?
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "the run ended (the optional step failed for memory)"
assert_true "[ -n \"\$(run_keys $run)\" ]" "the run has state in Redis"
# every writer has seen the run: the monitor's alert, the validator's finding, the feedback record
wait_for 60 all_consumed "every service consumed the run's events"
assert_true "no_key_without_expiry $run" "every key naming the run has an expiry"
assert_true "[ \"\$(stack_redis_cli PTTL acms:run:$run)\" -le 5000 ]" "the run hash expires within ACMS_RUN_RETENTION_S"
learned=$(stack_redis_cli --scan --pattern "acms:*:$pipeline:*" | sort)
echo "learned keys: $learned"
assert_true "echo '$learned' | grep -q acms:feedback:stats: && echo '$learned' | grep -q acms:monitor:baseline:" \
  "the pipeline has learned statistics and baselines"
wait_for 60 "[ -z \"\$(run_keys $run)\" ]" "every key of the run is gone after the retention"
left=$(stack_redis_cli --scan --pattern "*$run*" | grep -v "^acms:lease:\|^acms:monitor:alerted:" || true)
assert_eq "$left" "" "no key naming the run is left but its lease and alert rate limits"
for k in $learned; do assert_eq "$(stack_redis_cli EXISTS "$k")" 1 "learned key $k stays"; done
wait_for 30 "[ -z \"\$(stack_redis_cli ZSCORE acms:runs $run)\" ]" "acms:runs no longer lists the run"
assert_eq "$(stack_redis_cli ZSCORE acms:runs:expiry "$run")" "" "nor does the expiry index"
rc=0
err=$(ctl status "$run" --format json) || rc=$?
assert_eq "$rc" 1 "status of the expired run: exit 1"
assert_eq "$(json_get "$err" error.code)" expired_run "status says it expired"
topics=$(json_get "$err" error.details.history_topics)
assert_true "echo '$topics' | grep -q acms.exec.results" "and names the topics of its history ($topics)"
rc=0
ctl status "${run:0:8}" 2>"$STACK_DIR/status.err" || rc=$?
assert_true "[ $rc = 1 ] && grep -q 'expired at' $STACK_DIR/status.err" "a prefix of the expired run says so too"
assert_eq "$(ctl list --pipeline "$pipeline" --format json | "$STACK_PY" -c 'import json,sys;print(len(json.load(sys.stdin)["runs"]))')" 0 \
  "acmsctl list no longer shows it"

# the whole history of the run delivered again: nothing comes back
counts=$("$STACK_PY" "$here/../lib/replay_run.py" --brokers "$ACMS_KAFKA_BROKERS" --run "$run" \
  acms.config.submitted acms.config.prepared acms.config.validated acms.exec.steps acms.exec.results \
  acms.validation.results acms.monitor.alerts acms.exec.adaptations)
echo "replayed: $counts"
steps_replayed=$("$STACK_PY" -c 'import json,sys;print(json.loads(sys.argv[1])["acms.exec.steps"])' "$counts")
assert_true "[ $steps_replayed -gt 0 ]" "the run's step events were replayed ($steps_replayed)"
wait_for 60 all_consumed "every service consumed the replayed events"
assert_eq "$(run_keys "$run")" "" "no key of the run came back"
assert_true "no_key_without_expiry $run" "no key naming the run lacks an expiry"
assert_eq "$(stack_redis_cli ZSCORE acms:runs "$run")" "" "the replay did not list the run again"

restart_services() { # ENV=VALUE...: the services restarted with these settings
  local s t
  for s in $STACK_SERVICES_ALL; do stack_stop_service "$s"; done
  for t in acms.config.submitted acms.exec.adaptations acms.config.prepared acms.exec.steps acms.config.validated \
    acms.exec.adapted acms.exec.results acms.validation.results acms.monitor.alerts; do
    BASE[$t]=$(topic_count "$t")
  done
  export "$@"
  for s in $STACK_SERVICES_ALL; do stack_start_service "$s"; done
  stack_wait_ready
}

# --- phase 1b: every key family of a run, listed (a 600 s retention: all there when looked at) ---
restart_services ACMS_RUN_RETENTION_S=600
{ # nothing learned yet for it; a step near its memory limit for 4 s: heartbeats with a finding
  sed "s/name: $pipeline}/name: $pipeline-b}/" "$STACK_DIR/p.yaml"
  cat <<YAML
    - name: near
      type: processing
      command: ["$BIN/acms-stepload", "--mem-mb", "186", "--sleep-ms", "4000"]
      instance_type: ml.t3.medium
      memory_mb: 200
      depends_on: [prepare]
      output_path: s3://acme-ml/it/near
YAML
} >"$STACK_DIR/p-b.yaml"
out=$(ctl submit "$STACK_DIR/p-b.yaml" --env dev --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
wait_for 60 all_consumed "every service consumed the second run's events"
assert_eq "$(stack_redis_cli HLEN "acms:run:$run:rtonce")" 1 "the validator marked its heartbeat finding once"
assert_true "families_checked $run 600000" "every key naming the run is of a listed family, each family written, expiring with the run"

# --- phase 2: the example pipeline compacted to its summary, measured ----------------------------
restart_services ACMS_RUN_RETENTION_S=600 ACMS_RUN_COMPACT_S=1
out=$(ctl submit "$REPO/examples/pipelines/churn-training.yaml" --env dev --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "the example pipeline succeeded"
wait_for 60 all_consumed "every service consumed the example run's events"
total_lag() { local s t=0; for s in $STACK_SERVICES_ALL; do
  curl -fsS -m 3 -o "$STACK_DIR/$s.lag" "http://127.0.0.1:$(cat "$STACK_DIR/$s-0.port")/metrics" || return 1
  t=$((t + $($PROM value "$STACK_DIR/$s.lag" acms_consumer_lag | cut -d. -f1))); done; echo "$t"; }
# the restarted services read from their committed offsets: partitions that held phase 1's events
# and got none since are not lag (the gauge counted their whole history before)
wait_for 30 "[ \"\$(total_lag)\" = 0 ]" "no consumer lag once the restarted services consumed everything"
wait_for 60 "[ -n \"\$(stack_redis_cli HGET acms:run:$run compacted_ms)\" ]" "the run is compacted"
assert_eq "$(stack_redis_cli EXISTS "acms:run:$run:runtime" "acms:run:$run:adaptations" "acms:run:$run:steps" \
  "acms:run:$run:step:train" "acms:monitor:session:$run")" 0 "runtime, adaptation log, steps and session are gone"
total=0 logs=0
for k in $(run_keys "$run"); do
  b=$(stack_redis_cli MEMORY USAGE "$k" SAMPLES 0)
  total=$((total + b))
  case "$k" in *:log:*) logs=$((logs + b)) ;; esac
done
summary=$(stack_redis_cli HSTRLEN "acms:run:$run" summary)
echo "compacted run: $total bytes in Redis ($logs of them log tails; summary field $summary bytes)"
assert_true "[ $total -le 10240 ]" "the compacted example run takes at most 10 KiB ($total bytes)"
st=$(ctl status "${run:0:8}" --format json)
assert_eq "$(json_get "$st" compacted)" True "status reads the compacted run"
assert_eq "$(json_get "$st" steps.3.name)/$(json_get "$st" steps.3.status)/$(json_get "$st" steps.3.attempts.0.reason)" \
  train/succeeded/OK "its steps and attempts come from the summary"
assert_true "[ $(json_get "$st" adaptations_count) -gt 0 ]" "the adaptation count stays"
assert_true "ctl logs ${run:0:8} extract | grep -q 'extracting 1000 rows'" "logs of a compacted run"
