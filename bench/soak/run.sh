#!/usr/bin/env bash
# make bench-soak: many small runs through the whole stack with a short retention; Redis memory,
# every process's RSS and the consumer lag over time (bench/README.md, "Soak").
#   1. baseline: SOAK_BASELINE_RUNS runs with retention off: what each run costs Redis when kept;
#   2. Redis flushed, the services restarted with ACMS_RUN_RETENTION_S=SOAK_RETENTION_S,
#      ACMS_RUN_COMPACT_S=SOAK_COMPACT_S and ACMS_SEEN_TTL_S=SOAK_SEEN_TTL_S (the marks then live
#      as long as this bench's topics need them: the devbroker keeps no history beyond the bench);
#   3. SOAK_RUNS runs of bench/soak/pipeline.yaml at SOAK_RATE runs/s, sampled every SOAK_SAMPLE_S;
#      then until every run finished, the lag drained and every run left Redis.
# Passes when every run finished, the lag drained, nothing is left, and Redis used_memory and every
# RSS are flat over the steady window (after the retention, compaction and marks' lifetimes have
# come round, until the submissions end). Writes bench/results/soak.{json,csv,png}; BIN, OUT_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$here/../.." && pwd)
source "$REPO/tests/lib/stack.sh"

RUNS=${SOAK_RUNS:-9000}
RATE=${SOAK_RATE:-30}
RETENTION=${SOAK_RETENTION_S:-30}
COMPACT=${SOAK_COMPACT_S:-5}
SEEN=${SOAK_SEEN_TTL_S:-60}
EVERY=${SOAK_SAMPLE_S:-5}
BASELINE=${SOAK_BASELINE_RUNS:-1000}
OUT_DIR=${OUT_DIR:-$REPO/bench/results}
PIPELINE=$here/pipeline.yaml
mkdir -p "$OUT_DIR"

stack_init "$(mktemp -d /tmp/acms-soak-XXXXXX)"
sampler=""
trap '[ -n "$sampler" ] && touch "$STACK_DIR/stop" && wait "$sampler" 2>/dev/null; stack_stop' EXIT
say() { echo "soak: $*" >&2; }
metric() { # SERVICE NAME: the sum of a metric's series
  curl -fsS -m 3 "http://127.0.0.1:$(cat "$STACK_DIR/$1-0.port")/metrics" 2>/dev/null |
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%d\n", s}'
}
lag() { local s t=0; for s in $STACK_SERVICES_ALL; do t=$((t + $(metric "$s" acms_consumer_lag))); done; echo "$t"; }
used() { stack_redis_cli INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
await() { # SECONDS CONDITION WHAT
  local deadline=$(( $(date +%s) + $1 ))
  until eval "$2"; do
    [ "$(date +%s)" -lt "$deadline" ] || { say "timed out after $1 s: $3"; exit 1; }
    sleep 1
  done
}
submit() { # N
  "$BIN/acms-bench-soak" --file "$PIPELINE" --env dev --runs "$1" --rate "$RATE"
}

# --- 1. baseline: retention off ---------------------------------------------------------------------
export ACMS_RUN_RETENTION_S=1000000000 ACMS_RUN_COMPACT_S=1000000000 ACMS_SEEN_TTL_S=$SEEN ACMS_LOG_LEVEL=warn
STACK_PARTITIONS=12 stack_start_all
m0=$(used)
say "baseline: $BASELINE runs at $RATE/s with retention off"
submit "$BASELINE" >/dev/null
await 600 '[ "$(metric coordinator acms_coord_runs_finished_total)" -ge "$BASELINE" ] && [ "$(metric feedback acms_feedback_runs_total)" -ge "$BASELINE" ] && [ "$(lag)" = 0 ]' \
  "the baseline runs to finish"
m1=$(used)
per_run=$(( (m1 - m0) / BASELINE ))
say "baseline: Redis used_memory $m0 -> $m1 bytes: $per_run bytes per run kept"

# --- 2. the same stack with a short retention --------------------------------------------------------
for s in $STACK_SERVICES_ALL; do stack_stop_service "$s"; done
stack_redis_cli FLUSHALL >/dev/null
export ACMS_RUN_RETENTION_S=$RETENTION ACMS_RUN_COMPACT_S=$COMPACT
for s in $STACK_SERVICES_ALL; do stack_start_service "$s"; done
stack_wait_ready

# --- 3. the soak -------------------------------------------------------------------------------------
csv=$OUT_DIR/soak.csv
t0=$(date +%s.%N)
"$STACK_PY" "$here/soak.py" sample --stack "$STACK_DIR" --out "$csv" --every "$EVERY" --stop "$STACK_DIR/stop" &
sampler=$!
say "$RUNS runs at $RATE/s, retention ${RETENTION}s, compaction ${COMPACT}s, marks ${SEEN}s"
submit "$RUNS"
submit_end=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')
await 900 '[ "$(metric coordinator acms_coord_runs_finished_total)" -ge "$RUNS" ] && [ "$(lag)" = 0 ]' "every run to finish"
await $((RETENTION + 300)) '[ "$(stack_redis_cli ZCARD acms:runs)" = 0 ]' "every run to leave Redis"
sleep $((2 * EVERY))
touch "$STACK_DIR/stop"
wait "$sampler"
sampler=""
warmup=$(( (RETENTION + COMPACT > SEEN ? RETENTION + COMPACT : SEEN) + 30 ))
"$STACK_PY" "$here/soak.py" report --csv "$csv" --json "$OUT_DIR/soak.json" --png "$OUT_DIR/soak.png" \
  --runs "$RUNS" --retention "$RETENTION" --warmup "$warmup" --submit-end "$submit_end" \
  --baseline-bytes-per-run "$per_run"
