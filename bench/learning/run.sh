#!/usr/bin/env bash
# make bench-learning: does the learning loop right-size steps run after run? Two workloads simulated
# in their needs and real in their execution (steps run acms-stepload, which really allocates its
# memory and burns its CPU; users' requests wrong as real ones are), through the real stack
# (redis-server, acms-devbroker, the five services, the local executor enforcing limits):
#  - stationary (bench/learning/workload.py): PIPELINES x STEPS steps whose needs do not change,
#    ROUNDS rounds in environment "bench" (learning_mode apply), and the same workload, round by round
#    in the same stack, in "bench-nolearn" (learning_mode off) as the baseline;
#  - non-stationary (bench/learning/growth.py): GROWTH_PIPELINES x GROWTH_STEPS chained steps whose
#    needs follow the run's input (ROWS, lognormal +-30%) and grow 6% per round, GROWTH_ROUNDS rounds
#    of GROWTH_RUNS runs in "bench", one round every GROWTH_PERIOD_S seconds (a scheduled pipeline: its
#    data grows with time); analyze.py replays a VPA-style and an Autopilot-style recommender offline on
#    the same trace (baselines.py).
# The runs of a round run concurrently (all submitted, then all awaited); after a learning round the
# feedback service's record of each run is awaited, so the next round is prepared with what it taught.
# Writes $OUT (default bench/results/learning.json) and $PLOT (bench/results/learning.png) and prints
# the tables.
# Variables: BIN, ROUNDS (6), PIPELINES (8), STEPS (6), SEED (42), GROWTH_ROUNDS (6), GROWTH_RUNS (8),
# GROWTH_PIPELINES (2), GROWTH_STEPS (5), GROWTH_PERIOD_S (30), GROWTH_SIZING=0 (the steps do not declare
# their input: the loop learns from history alone), STATIONARY=0 or GROWTH=0 (skip one),
# OUT, PLOT, KEEP=1 (keep the work dir).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$here/../.." && pwd)
export REPO
BIN=${BIN:-$REPO/bin}
case "$BIN" in /*) ;; *) BIN=$REPO/$BIN ;; esac
export BIN
ROUNDS=${ROUNDS:-6} PIPELINES=${PIPELINES:-8} STEPS=${STEPS:-6} SEED=${SEED:-42}
GROWTH_ROUNDS=${GROWTH_ROUNDS:-6} GROWTH_RUNS=${GROWTH_RUNS:-8} GROWTH_PIPELINES=${GROWTH_PIPELINES:-2}
GROWTH_STEPS=${GROWTH_STEPS:-5} GROWTH_PERIOD_S=${GROWTH_PERIOD_S:-30} GROWTH_SIZING=${GROWTH_SIZING:-1}
STATIONARY=${STATIONARY:-1} GROWTH=${GROWTH:-1}
OUT=${OUT:-$REPO/bench/results/learning.json}
PLOT=${PLOT:-${OUT%.json}.png}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
for b in acmsctl acms-stepload acms-devbroker acms-adapter acms-validator acms-coordinator acms-monitor acms-feedback; do
  [ -x "$BIN/$b" ] || { echo "bench-learning: $BIN/$b missing: run make first" >&2; exit 2; }
done

work=$(mktemp -d /tmp/acms-bench-learning-XXXXXX)
source "$REPO/tests/lib/stack.sh"
cleanup() {
  stack_stop
  if [ "${KEEP:-0}" = 1 ]; then echo "bench-learning: work dir kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# the configuration directory: the project's catalogue and policies, the two bench environments
config=$work/config
mkdir -p "$config/environments" "$config/policies"
cp "$REPO/examples/catalog.yaml" "$config/"
cp "$REPO"/examples/policies/*.yaml "$config/policies/"
cp "$here"/environments/*.yaml "$config/environments/"
export ACMS_CONFIG_DIR=$config

t0=$(date +%s)
stack_init "$work/stack"
STACK_READY_TIMEOUT=${STACK_READY_TIMEOUT:-120} stack_start_all >"$work/stack-start.log" 2>&1 || {
  cat "$work/stack-start.log" >&2; exit 1; }
echo "bench-learning: stack up in $(( $(date +%s) - t0 )) s; seed $SEED;" \
     "stationary: $( [ "$STATIONARY" = 1 ] && echo "$ROUNDS rounds x ($PIPELINES pipelines x $STEPS steps), learning and baseline" || echo skipped);" \
     "non-stationary: $( [ "$GROWTH" = 1 ] && echo "$GROWTH_ROUNDS rounds x $GROWTH_RUNS runs of $GROWTH_STEPS steps, one round every $GROWTH_PERIOD_S s" || echo skipped)" >&2

results=$work/results
mkdir -p "$results"
printf '{"pipelines": %d, "steps_per_pipeline": %d, "rounds": %d, "seed": %d, "memory_need_mb": [24, 200], "cpu_ms": [100, 300], "noise": 0.03}\n' \
  "$PIPELINES" "$STEPS" "$ROUNDS" "$SEED" >"$results/meta.json"

# gen SERIES PREFIX ROUND PIPES: the round's pipeline files (workload.py, or growth.py for "growth")
gen() {
  local series=$1 prefix=$2 r=$3 pipes=$4
  if [ "$series" = growth ]; then
    "$PY" "$here/growth.py" gen --seed "$SEED" --round "$r" --prefix "$prefix" --stepload "$BIN/acms-stepload" \
      --out "$pipes" --pipelines "$GROWTH_PIPELINES" --steps "$GROWTH_STEPS" --runs "$GROWTH_RUNS" \
      $( [ "$GROWTH_SIZING" = 1 ] || echo --no-sizing )
    cp "$pipes/truth.json" "$results/$series/round-$r/truth.json"
  else
    "$PY" "$here/workload.py" gen --seed "$SEED" --round "$r" --prefix "$prefix" --stepload "$BIN/acms-stepload" \
      --out "$pipes" --pipelines "$PIPELINES" --steps "$STEPS"
  fi
}

# run_round SERIES ENV PREFIX ROUND: submits every pipeline run of the round at once, waits for all.
run_round() {
  local series=$1 env=$2 prefix=$3 r=$4 dir pipes f name start end pids=()
  dir=$results/$series/round-$r
  pipes=$work/pipelines/$series/round-$r
  mkdir -p "$dir" "$pipes"
  gen "$series" "$prefix" "$r" "$pipes"
  start=$(date +%s%3N)
  for f in "$pipes"/*.yaml; do
    name=$(basename "$f" .yaml)
    ( "$BIN/acmsctl" submit "$f" --env "$env" --wait --format json --timeout 600 >"$dir/$name.json" 2>"$dir/$name.err" ||
        echo "$?" >"$dir/$name.rc" ) &
    pids+=($!)
  done
  wait "${pids[@]}"
  end=$(date +%s%3N)
  echo $((end - start)) >"$dir/wall_ms"
}

# wait_feedback ROUND_DIR: until the feedback service has recorded every run of the round (60 s max)
wait_feedback() {
  local dir=$1 f run deadline
  deadline=$(( $(date +%s) + 60 ))
  for f in "$dir"/*.json; do
    run=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("run_id",""))' "$f" 2>/dev/null || true)
    [ -n "$run" ] || continue
    while [ -z "$(stack_redis_cli HGET "acms:feedback:run:$run" success 2>/dev/null)" ]; do
      if [ "$(date +%s)" -ge "$deadline" ]; then echo "bench-learning: no feedback for run $run after 60 s" >&2; return 0; fi
      sleep 0.2
    done
  done
}

summary() { # DIR: one progress line
  "$PY" - "$1" <<'EOF'
import json, sys, glob, os
steps = kills = retries = 0
for f in glob.glob(os.path.join(sys.argv[1], "*.json")):
    try: run = json.load(open(f))
    except Exception: continue
    for s in run.get("steps", []):
        steps += 1
        att = s.get("attempts") or []
        retries += max(0, len(att) - 1)
        kills += any(a.get("reason") in ("MEMORY", "TIME", "CPU_TIME") for a in att)
print(f"{steps} steps, {kills} killed, {retries} retries")
EOF
}

t_stationary=$(date +%s)
for r in $(seq 1 "$ROUNDS"); do
  [ "$STATIONARY" = 1 ] || break
  run_round learn bench learn "$r"
  wait_feedback "$results/learn/round-$r"
  echo "bench-learning: round $r learning: $(summary "$results/learn/round-$r"), $(cat "$results/learn/round-$r/wall_ms") ms" >&2
  run_round base bench-nolearn base "$r"
  echo "bench-learning: round $r baseline: $(summary "$results/base/round-$r"), $(cat "$results/base/round-$r/wall_ms") ms" >&2
done
t_growth=$(date +%s)
[ "$STATIONARY" = 1 ] && echo "bench-learning: stationary workload in $(( t_growth - t_stationary )) s" >&2
printf '{"pipelines": %d, "steps_per_pipeline": %d, "rounds": %d, "runs_per_round": %d, "seed": %d, "period_s": %d, "rows": "1e6 x lognormal(0, 0.3)", "growth_per_round": 0.06, "noise": 0.03, "memory_need_mb_at_1e6": [32, 160], "exponent": [0.5, 1.0]}\n' \
  "$GROWTH_PIPELINES" "$GROWTH_STEPS" "$GROWTH_ROUNDS" "$GROWTH_RUNS" "$SEED" "$GROWTH_PERIOD_S" >"$results/growth-meta.json"
for r in $(seq 1 "$GROWTH_ROUNDS"); do
  [ "$GROWTH" = 1 ] || break
  due=$(( t_growth + (r - 1) * GROWTH_PERIOD_S ))
  while [ "$(date +%s)" -lt "$due" ]; do sleep 0.2; done
  run_round growth bench grow "$r"
  wait_feedback "$results/growth/round-$r"
  echo "bench-learning: round $r non-stationary: $(summary "$results/growth/round-$r"), $(cat "$results/growth/round-$r/wall_ms") ms" >&2
done
[ "$GROWTH" = 1 ] && echo "bench-learning: non-stationary workload in $(( $(date +%s) - t_growth )) s" >&2
if ls "$results"/*/round-*/*.rc >/dev/null 2>&1; then
  echo "bench-learning: some runs did not succeed:" >&2
  for f in "$results"/*/round-*/*.rc; do echo "  $f: exit $(cat "$f")" >&2; done
fi
"$PY" "$here/analyze.py" "$results" "$OUT"
if "$PY" -c 'import matplotlib' 2>/dev/null; then
  "$PY" "$here/plot.py" "$OUT" "$PLOT" && echo "bench-learning: plot $PLOT" >&2
else
  echo "bench-learning: no plot: python3-matplotlib missing (make deps-bench)" >&2
fi
echo "bench-learning: wrote $OUT in $(( $(date +%s) - t0 )) s" >&2
