#!/usr/bin/env bash
# run.sh: the `make bench` driver. Every figure is a ratio against a baseline measured in the same
# run, alternated (odd rounds ours first, even rounds baseline first), medians of BENCH_ROUNDS runs,
# because these machines are shared and noisy. Writes bench/results/bench.json and prints a table.
#   validate_vs_ajv  acms-bench-validate (parse JSON -> adapter_prepare -> validator_validate) vs
#                    node + ajv 8 (JSON.parse + compiled schema), 6 and 300 steps, in CPU time per
#                    document (a descheduled run does not count)
#   throughput       acms-adapter / acms-validator on a pre-loaded topic vs acms-bench-forward (the
#                    same consume loop, no decode) on the same devbroker; consumed == produced checked
#   rss_mb           VmHWM of each of those processes at the end of its throughput run
#   latency          submit -> validated at BENCH_RATE/s vs two chained null forwarders
#   dag_vs_make      300-step binary tree of `true` through the whole stack vs make -j2; what lies
#                    outside the coordinator's run, hop by hop (bench/hops.py)
#   hops             per round BENCH_HOPS_RUNS back-to-back `acmsctl submit --wait` of a 4-step tree on
#                    one stack: submit -> adapter and -> coordinator, p50/p99 (bench/hops.py), vs the
#                    bus's own hops at BENCH_HOPS_RATE/s (1 topic; 3 topics through 2 null forwarders); every hop from
#                    acmsctl's start to its return (bench/hops.py)
#   spawn            acms-bench-spawn: a `true` attempt through the local executor with its sandbox
#                    (cgroup + step user; + netns; + tmpfs volume) vs without (the polling path)
#   fetch_nudge      acms-bench-nudge: a backlog larger than the prefetch queue consumed with the fetch
#                    nudge vs without (librdkafka's one-second fetch stall), on the mock cluster
# Every figure goes into the file's "figures" list and the printed table with its bus, ours, the
# baseline, the ratio, the goal and whether it is met (bench/lib.sh; `make bench-check` checks both).
# Knobs (environment): BIN, BENCH_ROUNDS (3), BENCH_EVENTS (50000), BENCH_RATE (500),
# BENCH_LAT_S (6), BENCH_LAT_ROUNDS (5, or BENCH_ROUNDS if more),
# BENCH_LAT_WARM_S (2: an unmeasured run of each latency chain first),
# BENCH_LAT_LATE_MS (unset: list on stderr each latency event slower than this),
# BENCH_DAG_STEPS (300), BENCH_HOPS_RUNS (60 a round), BENCH_HOPS_RATE (20),
# BENCH_ONLY ("ajv throughput latency dag hops spawn nudge", a subset; on Kafka the default is
# "throughput latency dag hops"),
# BENCH_TP_SERVICES ("adapter validator", a subset), BENCH_BUS (devbroker, or kafka: Apache Kafka
# from `make kafka`, one node with the full JIT and a 1 GiB heap; results in bench-kafka.json).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
BIN=${BIN:-$REPO/bin}
case "$BIN" in /*) ;; *) BIN=$REPO/$BIN ;; esac
export BIN
ROUNDS=${BENCH_ROUNDS:-3}
EVENTS=${BENCH_EVENTS:-50000}
RATE=${BENCH_RATE:-500}
LAT_S=${BENCH_LAT_S:-6}
DAG_STEPS=${BENCH_DAG_STEPS:-300}
HOPS_RUNS=${BENCH_HOPS_RUNS:-60}
HOPS_RATE=${BENCH_HOPS_RATE:-20}
BUS=${BENCH_BUS:-devbroker}
# on Kafka, only the sections that use the bus (validate, spawn and the in-process nudge touch none)
ONLY=${BENCH_ONLY:-"ajv throughput latency dag hops spawn nudge"}
[ "$BUS" = kafka ] && ONLY=${BENCH_ONLY:-"throughput latency dag hops"}
TP_SERVICES=${BENCH_TP_SERVICES:-"adapter validator"}
LAT_WARM_S=${BENCH_LAT_WARM_S:-2}
# latency rounds are cheap (6 s) and one burst of contention moves a p99: a median of 5 by default
LAT_ROUNDS=${BENCH_LAT_ROUNDS:-$((ROUNDS > 5 ? ROUNDS : 5))}
LAT_LATE_MS=${BENCH_LAT_LATE_MS:-}
case "$BUS" in devbroker|kafka) ;; *) echo "bench: BENCH_BUS=$BUS: expected devbroker or kafka" >&2; exit 2 ;; esac
export ACMS_BUS=$BUS STACK_KAFKA_JVM_OPTS="" STACK_KAFKA_HEAP=${STACK_KAFKA_HEAP:-1g}
OUT_JSON=bench.json
[ "$BUS" = kafka ] && OUT_JSON=bench-kafka.json
RESULTS=$REPO/bench/results
WORK=$(mktemp -d "${TMPDIR:-/tmp}/acms-bench-XXXXXX")
mkdir -p "$RESULTS"
T_START=$(date +%s)

# shellcheck source=../tests/lib/stack.sh
source "$REPO/tests/lib/stack.sh"

log() { echo "bench: $*" >&2; }
want() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
# jget FILE KEY: a top-level number or string of a one-line JSON object
jget() { "$STACK_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# shellcheck source=lib.sh
source "$REPO/bench/lib.sh"
median() { bench_median "$@"; }
ratio() { bench_ratio "$@"; }
# first_is_ours ROUND: odd rounds measure ours first
first_is_ours() { [ $(($1 % 2)) -eq 1 ]; }

BENCH_PIDS=""
cleanup() {
  local name
  for name in $BENCH_PIDS; do stack__kill "$name" TERM 10; done
  [ -n "${STACK_DIR:-}" ] && stack_stop
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# spawn NAME LOG PROG ARGS...: a bench process under the stack directory (stopped by cleanup)
spawn() {
  local name=$1 logf=$2; shift 2
  stack__spawn "$name" "$logf" "$@"
  BENCH_PIDS="$BENCH_PIDS $name"
}
stop() { stack__kill "$1" TERM 15; }
hwm_mb() { awk '/VmHWM/ {printf "%.1f\n", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
wait_file() { local f=$1 i; for i in $(seq 1 600); do [ -s "$f" ] && return 0; sleep 0.1; done; return 1; }
wait_ready() { # wait_ready ID: the service's /readyz (partitions assigned, Redis reachable)
  local id=$1 i
  for i in $(seq 1 600); do
    curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$(cat "$STACK_DIR/$id.port")/readyz" 2>/dev/null && return 0
    [ -n "$(stack__pid "$id")" ] || { log "$id exited; see $STACK_DIR/$id.log"; tail -5 "$STACK_DIR/$id.log" >&2; return 1; }
    sleep 0.1
  done
  return 1
}

declare -A R   # result name -> value (numbers, "null" when not measured)

# --- validation engine vs ajv ------------------------------------------------------------------
bench_ajv() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing nodejs and npm (Debian)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
  fi
  log "npm ci --prefix bench/ajv"
  npm ci --prefix "$REPO/bench/ajv" --no-audit --no-fund --loglevel=error >/dev/null
  local steps f r ours=() theirs=()
  for steps in 6 300; do
    f=$WORK/p$steps.json
    "$BIN/acms-bench-gen" --steps "$steps" --seed "$steps" --format json >"$f"
    ours=(); theirs=()
    for r in $(seq 1 "$ROUNDS"); do
      local o a
      if first_is_ours "$r"; then
        o=$("$BIN/acms-bench-validate" "$f" --runs 5 --config-dir "$REPO/examples"); a=$(node bench/ajv/bench.js "$f" --runs 5)
      else
        a=$(node bench/ajv/bench.js "$f" --runs 5); o=$("$BIN/acms-bench-validate" "$f" --runs 5 --config-dir "$REPO/examples")
      fi
      echo "$o" >"$WORK/v.json"; echo "$a" >"$WORK/a.json"
      [ "$(jget "$WORK/v.json" valid)" = True ] || { log "generated $steps-step document is not valid for dev: $o"; return 1; }
      ours+=("$(jget "$WORK/v.json" us)"); theirs+=("$(jget "$WORK/a.json" us)")
      log "validate $steps steps round $r: ours $(jget "$WORK/v.json" us) us, ajv $(jget "$WORK/a.json" us) us"
    done
    R[val_${steps}_ours]=$(median "${ours[@]}"); R[val_${steps}_ajv]=$(median "${theirs[@]}")
    R[val_${steps}_bytes]=$(wc -c <"$f")
    R[val_${steps}_ratio]=$(ratio "${R[val_${steps}_ours]}" "${R[val_${steps}_ajv]}")
  done
}

# --- the bus: one stack for throughput and latency -------------------------------------------------
start_bus() {
  stack_init "$WORK/stack"
  stack_start_redis >/dev/null
  stack_start_broker 6 >/dev/null
  export ACMS_LOG_LEVEL=${ACMS_LOG_LEVEL:-info}
}

# mk_topic NAME PARTITIONS: the devbroker's control socket, or on Kafka a one-topic spec applied
mk_topic() {
  if [ "$BUS" = devbroker ]; then stack_broker_ctl create-topic "$1" "$2" >/dev/null; return; fi
  printf 'kind: Topics\nspec:\n  defaults: {replication: 1, min_insync_replicas: 1}\n  topics:\n    - {name: %s, partitions: %s}\n' \
    "$1" "$2" >"$WORK/topic-$1.yaml"
  ACMS_LOG_LEVEL=error "$BIN/acmsctl" topics apply "$WORK/topic-$1.yaml" >/dev/null
}

# redis_cpu_s: Redis's CPU seconds so far (user + system, INFO cpu)
redis_cpu_s() { stack_redis_cli INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.3f", s}'; }

# tp_run KIND ROUND: one throughput run; KIND adapter|validator|fwd-adapter|fwd-validator.
# Prints "events_per_s rss_mb"; fails when fewer than EVENTS distinct runs came out. Logs the CPU per
# event of the process (utime + stime) and of Redis (INFO cpu, after FLUSHALL), and Redis's
# per-command times (INFO commandstats) of the run.
tp_run() {
  local kind=$1 r=$2 in out name pid res
  case $kind in
    adapter|fwd-adapter) in=bench.tp.submitted ;;
    *) in=bench.tp.prepared ;;
  esac
  out=bench.tp.out.$kind.$r
  mk_topic "$out" 24
  stack_redis_cli FLUSHALL >/dev/null
  stack_redis_cli CONFIG RESETSTAT >/dev/null
  local rcpu0; rcpu0=$(redis_cpu_s)
  case $kind in
    adapter)
      (export ACMS_GROUP_ID=bench-tp-$kind-$r ACMS_TOPIC_CONFIG_SUBMITTED=$in ACMS_TOPIC_CONFIG_PREPARED=$out
       stack_start_service adapter 1 >/dev/null 2>&1)
      name=adapter-1 ;;
    validator)
      (export ACMS_GROUP_ID=bench-tp-$kind-$r ACMS_TOPIC_CONFIG_PREPARED=$in ACMS_TOPIC_CONFIG_VALIDATED=$out
       stack_start_service validator 1 >/dev/null 2>&1)
      name=validator-1 ;;
    *)
      name=fwd-tp
      ACMS_GROUP_ID=bench-tp-$kind-$r spawn "$name" "$STACK_DIR/$name.log" "$BIN/acms-bench-forward" --in "$in" --out "$out" ;;
  esac
  pid=$(stack__pid "$name")
  res=$WORK/tp.$kind.$r.json
  if ! "$BIN/acms-bench-count" --topic "$out" --expect "$EVENTS" --timeout-s 600 >"$res"; then
    log "$kind round $r: consumed != produced: $(cat "$res")"
    return 1
  fi
  local hwm; hwm=$(hwm_mb "$pid")
  local tck scpu rcpu1; tck=$(getconf CLK_TCK); scpu=$(awk '{print $14 + $15}' "/proc/$pid/stat"); rcpu1=$(redis_cpu_s)
  log "$kind round $r: CPU per event: service $(awk -v t="$scpu" -v k="$tck" -v n="$EVENTS" 'BEGIN {printf "%.1f", t * 1e6 / k / n}') us, redis $(awk -v a="$rcpu0" -v b="$rcpu1" -v n="$EVENTS" 'BEGIN {printf "%.1f", (b - a) * 1e6 / n}') us"
  stack_redis_cli INFO commandstats | tr -d '\r' | grep -E '^cmdstat_(eval|evalsha|hgetall|hvals|hget)[:]' | sed "s/^/bench: $kind round $r: /" >&2
  case $name in fwd-*) stop "$name" ;; *) stack_stop_service "${name%-1}" 1 ;; esac
  echo "$(jget "$res" events_per_s) $hwm"
}

bench_throughput() {
  local plan_s plan_p ps pp r kind
  plan_s=$("$BIN/acms-bench-load" --plan --count "$EVENTS" --kind submitted --config-dir "$REPO/examples")
  plan_p=$("$BIN/acms-bench-load" --plan --count "$EVENTS" --kind prepared --config-dir "$REPO/examples")
  echo "$plan_s" >"$WORK/ps.json"; echo "$plan_p" >"$WORK/pp.json"
  ps=$(jget "$WORK/ps.json" partitions); pp=$(jget "$WORK/pp.json" partitions)
  [ "$ps" -ge 24 ] || ps=24; [ "$pp" -ge 24 ] || pp=24
  mk_topic bench.tp.submitted "$ps"; mk_topic bench.tp.prepared "$pp"
  log "pre-loading $EVENTS ConfigSubmitted ($ps partitions) and $EVENTS ConfigPrepared ($pp partitions)"
  # both topics at once (two producers, then two readers): the broker and the generators overlap
  local l1 l2 rc=0
  "$BIN/acms-bench-load" --topic bench.tp.submitted --count "$EVENTS" --kind submitted --run-prefix tps \
    >"$WORK/l1.json" & l1=$!
  "$BIN/acms-bench-load" --topic bench.tp.prepared --count "$EVENTS" --kind prepared --run-prefix tpp \
    --config-dir "$REPO/examples" >"$WORK/l2.json" & l2=$!
  wait "$l1" || rc=1; wait "$l2" || rc=1
  [ "$rc" = 0 ] || { log "pre-load failed: $(cat "$WORK/l1.json" "$WORK/l2.json")"; return 1; }
  # the devbroker trims silently: what is retained must be everything that was produced
  "$BIN/acms-bench-count" --topic bench.tp.submitted --expect "$EVENTS" --timeout-s 120 >"$WORK/c1.json" & l1=$!
  "$BIN/acms-bench-count" --topic bench.tp.prepared --expect "$EVENTS" --timeout-s 120 >"$WORK/c2.json" & l2=$!
  wait "$l1" || { log "pre-load trimmed: $(cat "$WORK/c1.json")"; rc=1; }
  wait "$l2" || { log "pre-load trimmed: $(cat "$WORK/c2.json")"; rc=1; }
  [ "$rc" = 0 ] || return 1
  R[tp_partitions_submitted]=$ps; R[tp_partitions_prepared]=$pp
  local svc
  for svc in $TP_SERVICES; do
    local ours=() base=() rss=() brss=() out
    for r in $(seq 1 "$ROUNDS"); do
      for kind in $(if first_is_ours "$r"; then echo "$svc fwd-$svc"; else echo "fwd-$svc $svc"; fi); do
        out=$(tp_run "$kind" "$r") || return 1
        log "throughput $kind round $r: $out (events/s, peak RSS MiB)"
        if [ "$kind" = "$svc" ]; then ours+=("${out% *}"); rss+=("${out#* }"); else base+=("${out% *}"); brss+=("${out#* }"); fi
      done
    done
    R[tp_${svc}_ours]=$(median "${ours[@]}"); R[tp_${svc}_base]=$(median "${base[@]}")
    R[tp_${svc}_ratio]=$(ratio "${R[tp_${svc}_ours]}" "${R[tp_${svc}_base]}")
    R[rss_$svc]=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
    R[rss_fwd_$svc]=$(printf '%s\n' "${brss[@]}" | sort -g | tail -1)
  done
}

bench_latency() {
  local t r
  for t in bench.lat.submitted bench.lat.prepared bench.lat.validated bench.latb.submitted bench.latb.prepared \
           bench.latb.validated; do mk_topic "$t" 6; done
  stack_redis_cli FLUSHALL >/dev/null
  (export ACMS_GROUP_ID=bench-lat-adapter ACMS_TOPIC_CONFIG_SUBMITTED=bench.lat.submitted \
          ACMS_TOPIC_CONFIG_PREPARED=bench.lat.prepared
   stack_start_service adapter 2 >/dev/null 2>&1)
  (export ACMS_GROUP_ID=bench-lat-validator ACMS_TOPIC_CONFIG_PREPARED=bench.lat.prepared \
          ACMS_TOPIC_CONFIG_VALIDATED=bench.lat.validated
   stack_start_service validator 2 >/dev/null 2>&1)
  ACMS_GROUP_ID=bench-latb-1 spawn fwd-lat1 "$STACK_DIR/fwd-lat1.log" "$BIN/acms-bench-forward" \
    --in bench.latb.submitted --out bench.latb.prepared --ready-file "$WORK/fwd1.ready"
  ACMS_GROUP_ID=bench-latb-2 spawn fwd-lat2 "$STACK_DIR/fwd-lat2.log" "$BIN/acms-bench-forward" \
    --in bench.latb.prepared --out bench.latb.validated --ready-file "$WORK/fwd2.ready"
  wait_ready adapter-2 && wait_ready validator-2 && wait_file "$WORK/fwd1.ready" && wait_file "$WORK/fwd2.ready" ||
    { log "latency: the chains did not become ready"; return 1; }
  # an unmeasured run of each chain first: a fresh broker's JIT, the services' first groups
  if [ "$LAT_WARM_S" != 0 ]; then
    "$BIN/acms-bench-latency" --in bench.lat.submitted --out bench.lat.validated --rate "$RATE" \
      --duration-s "$LAT_WARM_S" --run-prefix latw >"$WORK/lat.warm.json" || log "latency warm-up (ours): $(cat "$WORK/lat.warm.json")"
    "$BIN/acms-bench-latency" --in bench.latb.submitted --out bench.latb.validated --rate "$RATE" \
      --duration-s "$LAT_WARM_S" --run-prefix latbw >"$WORK/latb.warm.json" || log "latency warm-up (bus): $(cat "$WORK/latb.warm.json")"
  fi
  local p50=() p99=() b50=() b99=() which res
  for r in $(seq 1 "$LAT_ROUNDS"); do
    for which in $(if first_is_ours "$r"; then echo "ours base"; else echo "base ours"; fi); do
      res=$WORK/lat.$which.$r.json
      if [ "$which" = ours ]; then
        "$BIN/acms-bench-latency" --in bench.lat.submitted --out bench.lat.validated --rate "$RATE" \
          --duration-s "$LAT_S" --run-prefix "lat$r" ${LAT_LATE_MS:+--late-ms "$LAT_LATE_MS"} >"$res" || { log "latency ours round $r: $(cat "$res")"; return 1; }
        p50+=("$(jget "$res" p50_ms)"); p99+=("$(jget "$res" p99_ms)")
      else
        "$BIN/acms-bench-latency" --in bench.latb.submitted --out bench.latb.validated --rate "$RATE" \
          --duration-s "$LAT_S" --run-prefix "latb$r" ${LAT_LATE_MS:+--late-ms "$LAT_LATE_MS"} >"$res" || { log "latency base round $r: $(cat "$res")"; return 1; }
        b50+=("$(jget "$res" p50_ms)"); b99+=("$(jget "$res" p99_ms)")
      fi
      log "latency $which round $r: $(cat "$res")"
    done
  done
  R[lat_p50]=$(median "${p50[@]}"); R[lat_p99]=$(median "${p99[@]}")
  R[lat_bus_p50]=$(median "${b50[@]}"); R[lat_bus_p99]=$(median "${b99[@]}")
  R[lat_ratio_p99]=$(ratio "${R[lat_p99]}" "${R[lat_bus_p99]}")
  stack_stop_service adapter 2; stack_stop_service validator 2; stop fwd-lat1; stop fwd-lat2
}

# --- coordinator vs make -----------------------------------------------------------------------
# stack_cpu: CPU seconds (user + system, with reaped children: the steps) used so far by the processes
# of the stack (Redis, the bus, the five services); wall time on a shared machine counts other jobs too.
stack_cpu() {
  local f pid tck total=0
  tck=$(getconf CLK_TCK)
  for f in "$STACK_DIR"/*.pid; do
    pid=$(stack__pid "$(basename "$f" .pid)")
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || continue
    total=$(awk -v t="$total" -v k="$tck" '{sub(/^.*\) /, ""); print t + ($12 + $13 + $14 + $15) / k}' "/proc/$pid/stat")
  done
  echo "$total"
}

# stack_cpu_of NAME: CPU seconds of one stack process, "own reaped": its own (user + system) and that
# of the children it reaped (for the coordinator: the steps).
stack_cpu_of() {
  local pid
  pid=$(stack__pid "$1")
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || { echo "0 0"; return; }
  awk -v k="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.3f %.3f\n", ($12 + $13) / k, ($14 + $15) / k}' "/proc/$pid/stat"
}

bench_dag() {
  stack_init "$WORK/dagstack"
  STACK_PARTITIONS=6 stack_start_all >/dev/null 2>&1 || { log "dag: the stack did not start"; return 1; }
  "$BIN/acms-bench-gen" --steps "$DAG_STEPS" --shape tree --format yaml --max-parallel 2 >"$WORK/tree.yaml"
  "$BIN/acms-bench-gen" --steps "$DAG_STEPS" --shape tree --format make >"$WORK/tree.mk"
  local ours=() theirs=() coord=() ocpu=() mcpu=() ccpu=() scpu=() r which t0 t1 c0 c1 k0 k1 res tm TIMEFORMAT='%U %S' d=$WORK/dagruns
  mkdir -p "$d"
  for r in $(seq 1 "$ROUNDS"); do
    for which in $(if first_is_ours "$r"; then echo "ours make"; else echo "make ours"; fi); do
      t0=$(date +%s%N)
      if [ "$which" = ours ]; then
        res=$d/dag.$r.json
        c0=$(stack_cpu); k0=$(stack_cpu_of coordinator-0)
        t0=$(date +%s%N) # acmsctl's own wall time: reading the processes' CPU is not part of it
        { tm=$( { time "$BIN/acmsctl" submit "$WORK/tree.yaml" --env dev --wait --format json \
                  --config-dir "$REPO/examples" >"$res" 2>"$WORK/dag.$r.err"; } 2>&1 ); } ||
          { log "dag round $r failed: $(tail -3 "$WORK/dag.$r.err")"; return 1; }
        t1=$(date +%s%N); ours+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')")
        echo "$((t0 / 1000000)) $((t1 / 1000000))" >"$d/dag.$r.t"
        c1=$(stack_cpu); k1=$(stack_cpu_of coordinator-0)
        ccpu+=("$(awk -v a="${k0% *}" -v b="${k1% *}" 'BEGIN {printf "%.3f", b - a}')")
        scpu+=("$(awk -v a="${k0#* }" -v b="${k1#* }" 'BEGIN {printf "%.3f", b - a}')")
        ocpu+=("$(echo "$tm" | awk -v a="$c0" -v b="$c1" '{printf "%.3f", b - a + $1 + $2}')")
        coord+=("$("$STACK_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print((int(d["finished_ms"])-int(d["started_ms"]))/1000)' "$res")")
      else
        tm=$( { time make -s -j2 -f "$WORK/tree.mk" all; } 2>&1 )
        t1=$(date +%s%N); theirs+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')")
        mcpu+=("$(echo "$tm" | awk '{printf "%.3f", $1 + $2}')")
      fi
    done
    log "dag round $r: ours ${ours[-1]} s (coordinator ${coord[-1]} s; CPU ${ocpu[-1]} s, of which the coordinator ${ccpu[-1]} s and its steps ${scpu[-1]} s), make -j2 ${theirs[-1]} s (CPU ${mcpu[-1]} s)"
  done
  R[dag_ours]=$(median "${ours[@]}"); R[dag_make]=$(median "${theirs[@]}"); R[dag_coord]=$(median "${coord[@]}")
  R[dag_ratio]=$(ratio "${R[dag_ours]}" "${R[dag_make]}")
  R[dag_ours_cpu]=$(median "${ocpu[@]}"); R[dag_make_cpu]=$(median "${mcpu[@]}")
  cp "$STACK_DIR"/adapter-*.log "$STACK_DIR"/validator-*.log "$d/"
  R[dag_coord_cpu]=$(median "${ccpu[@]}"); R[dag_steps_cpu]=$(median "${scpu[@]}")
  stack_stop
  hop_figures dag "$d" dag
}

# hop_figures NAME DIR PREFIX: bench/hops.py on DIR's runs into R[NAME_<figure>]
HOP_SEGMENTS="ctl_start to_adapter to_validator to_coordinator to_first_step steps to_terminal to_return outside"
hop_figures() {
  local name=$1 res k
  res=$("$STACK_PY" "$REPO/bench/hops.py" "$2" "$3") || { log "$name: no hop figures"; return 1; }
  log "$name hops: $res"
  echo "$res" >"$WORK/$name-hops.json"
  for k in n stalls_over_500ms adapter_p50_ms adapter_p99_ms adapter_max_ms coordinator_p50_ms coordinator_p99_ms \
           coordinator_max_ms $(for k in $HOP_SEGMENTS; do echo "${k}_p50_ms ${k}_p99_ms"; done); do
    R[${name}_$k]=$(jget "$WORK/$name-hops.json" "$k" | sed 's/^None$/null/')
  done
}
# hop_json NAME: the segments' p50 and p99 as a JSON object
hop_json() {
  local k out=""
  for k in $HOP_SEGMENTS; do
    out="$out${out:+, }\"$k\": {\"p50_ms\": ${R[${1}_${k}_p50_ms]:-null}, \"p99_ms\": ${R[${1}_${k}_p99_ms]:-null}}"
  done
  echo "{$out}"
}

# --- the first hops of back-to-back runs -------------------------------------------------------
# hops_ours DIR: HOPS_RUNS back-to-back submits of DIR/../p.yaml, then bench/hops.py's figures
hops_ours() {
  local d=$1 i t0
  mkdir -p "$d"
  : >"$d/runs.txt"
  for i in $(seq 1 "$HOPS_RUNS"); do
    t0=$(date +%s%3N)
    "$BIN/acmsctl" submit "$d/../p.yaml" --env dev --wait --format json --config-dir "$REPO/examples" \
      >"$d/r.$i.json" 2>"$d/r.$i.err" || log "hops run $i failed: $(tail -1 "$d/r.$i.err")"
    echo "$t0 $(date +%s%3N)" >"$d/r.$i.t"
    echo "$i" >>"$d/runs.txt"
  done
  cp "$STACK_DIR"/adapter-*.log "$STACK_DIR"/validator-*.log "$d/"
  "$STACK_PY" "$REPO/bench/hops.py" "$d" r
}

# hops_base HOPS ROUND: the bus's own hops, HOPS_RUNS events at HOPS_RATE/s from a warm producer to a
# consumer over 1 topic (submit -> adapter) or 3 topics and 2 null forwarders (submit -> coordinator)
hops_base() {
  local out=bench.hop.a
  [ "$1" = 3 ] && out=bench.hop.c
  "$BIN/acms-bench-latency" --in bench.hop.a --out "$out" --rate "$HOPS_RATE" \
    --duration-s "$(awk -v n="$HOPS_RUNS" -v r="$HOPS_RATE" 'BEGIN {print n / r}')" --run-prefix "hop$1r$2"
}

bench_hops() {
  local d=$WORK/hops r which res t
  local -A seg_rounds=()
  local k a50=() a99=() amax=() c50=() c99=() cmax=() b1_50=() b1_99=() b3_50=() b3_99=() n=0 stalls=0
  mkdir -p "$d"
  stack_init "$WORK/hopstack"
  STACK_PARTITIONS=6 stack_start_all >/dev/null 2>&1 || { log "hops: the stack did not start"; return 1; }
  "$BIN/acms-bench-gen" --steps 4 --shape tree --format yaml --max-parallel 2 >"$d/p.yaml"
  for t in bench.hop.a bench.hop.b bench.hop.c; do mk_topic "$t" 6; done
  ACMS_GROUP_ID=bench-hop-1 spawn fwd-hop1 "$STACK_DIR/fwd-hop1.log" "$BIN/acms-bench-forward" \
    --in bench.hop.a --out bench.hop.b --ready-file "$WORK/fwdh1.ready"
  ACMS_GROUP_ID=bench-hop-2 spawn fwd-hop2 "$STACK_DIR/fwd-hop2.log" "$BIN/acms-bench-forward" \
    --in bench.hop.b --out bench.hop.c --ready-file "$WORK/fwdh2.ready"
  wait_file "$WORK/fwdh1.ready" && wait_file "$WORK/fwdh2.ready" || { log "hops: forwarders not ready"; return 1; }
  for r in $(seq 1 "$ROUNDS"); do
    for which in $(if first_is_ours "$r"; then echo "ours base"; else echo "base ours"; fi); do
      res=$WORK/hops.$which.$r.json
      if [ "$which" = ours ]; then
        hops_ours "$d/r$r" >"$res" || { log "hops round $r: no figures"; return 1; }
        a50+=("$(jget "$res" adapter_p50_ms)"); a99+=("$(jget "$res" adapter_p99_ms)"); amax+=("$(jget "$res" adapter_max_ms)")
        c50+=("$(jget "$res" coordinator_p50_ms)"); c99+=("$(jget "$res" coordinator_p99_ms)"); cmax+=("$(jget "$res" coordinator_max_ms)")
        for k in $HOP_SEGMENTS; do seg_rounds[$k]+=" $(jget "$res" "${k}_p50_ms" | sed 's/^None$/null/')"; done
        n=$((n + $(jget "$res" n))); stalls=$((stalls + $(jget "$res" stalls_over_500ms)))
      else
        hops_base 1 "$r" >"$res" || { log "hops bus 1 hop round $r: $(cat "$res")"; return 1; }
        b1_50+=("$(jget "$res" p50_ms)"); b1_99+=("$(jget "$res" p99_ms)")
        hops_base 3 "$r" >"$res.3" || { log "hops bus 3 hops round $r: $(cat "$res.3")"; return 1; }
        b3_50+=("$(jget "$res.3" p50_ms)"); b3_99+=("$(jget "$res.3" p99_ms)")
        cat "$res.3" >>"$res"
      fi
      log "hops $which round $r: $(tr '\n' ' ' <"$res")"
    done
  done
  stop fwd-hop1; stop fwd-hop2
  stack_stop
  R[hops_n]=$n; R[hops_stalls_over_500ms]=$stalls
  R[hops_adapter_p50_ms]=$(median "${a50[@]}"); R[hops_adapter_p99_ms]=$(median "${a99[@]}")
  R[hops_coordinator_p50_ms]=$(median "${c50[@]}"); R[hops_coordinator_p99_ms]=$(median "${c99[@]}")
  R[hops_adapter_max_ms]=$(bench_max "${amax[@]}"); R[hops_coordinator_max_ms]=$(bench_max "${cmax[@]}")
  R[hops_bus1_p50_ms]=$(median "${b1_50[@]}"); R[hops_bus1_p99_ms]=$(median "${b1_99[@]}")
  R[hops_bus3_p50_ms]=$(median "${b3_50[@]}"); R[hops_bus3_p99_ms]=$(median "${b3_99[@]}")
  for k in $HOP_SEGMENTS; do R[hops_${k}_p50_ms]=$(median ${seg_rounds[$k]:-}); done
}

# --- the local executor's sandbox ---------------------------------------------------------------
bench_spawn() {
  local res=$WORK/spawn.json
  "$BIN/acms-bench-spawn" --steps "$DAG_STEPS" --rounds "$ROUNDS" >"$res" || { log "spawn: failed"; return 1; }
  log "spawn: $(cat "$res")"
  local m
  for m in off sandbox netns volume; do
    R[spawn_${m}_start]=$("$STACK_PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))[sys.argv[2]]; print("null" if d is None else d["start_us"])' "$res" "$m")
    R[spawn_${m}_total]=$("$STACK_PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))[sys.argv[2]]; print("null" if d is None else d["total_us"])' "$res" "$m")
    R[spawn_${m}_cpu]=$("$STACK_PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))[sys.argv[2]]; print("null" if d is None or "cpu_us" not in d else d["cpu_us"])' "$res" "$m")
  done
  R[spawn_ratio]=$( [ "${R[spawn_sandbox_total]}" = null ] && echo null || ratio "${R[spawn_sandbox_total]}" "${R[spawn_off_total]}")
}

# --- the fetch nudge ---------------------------------------------------------------------------
bench_nudge() {
  local res=$WORK/nudge.json k
  "$BIN/acms-bench-nudge" --rounds "$ROUNDS" >"$res" || { log "nudge: failed"; return 1; }
  log "nudge: $(cat "$res")"
  for k in on.max_gap_ms on.total_ms on.nudges off.max_gap_ms off.total_ms ratio_total; do
    R[nudge_${k//./_}]=$("$STACK_PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
for p in sys.argv[2].split("."): d=d[p]
print(d)' "$res" "$k")
  done
}

# --- run ----------------------------------------------------------------------------------------
for k in val_6_ours val_6_ajv val_6_ratio val_6_bytes val_300_ours val_300_ajv val_300_ratio val_300_bytes \
         tp_adapter_ours tp_adapter_base tp_adapter_ratio tp_validator_ours tp_validator_base tp_validator_ratio \
         rss_adapter rss_validator rss_fwd_adapter rss_fwd_validator tp_partitions_submitted tp_partitions_prepared \
         lat_p50 lat_p99 lat_bus_p50 lat_bus_p99 lat_ratio_p99 dag_ours dag_make dag_coord dag_ratio dag_ours_cpu dag_make_cpu dag_coord_cpu dag_steps_cpu \
         spawn_off_start spawn_off_total spawn_sandbox_start spawn_sandbox_total spawn_netns_start spawn_netns_total \
         spawn_volume_start spawn_volume_total spawn_ratio spawn_off_cpu spawn_sandbox_cpu spawn_netns_cpu spawn_volume_cpu hops_n hops_stalls_over_500ms hops_adapter_p50_ms \
         hops_adapter_p99_ms hops_adapter_max_ms hops_coordinator_p50_ms hops_coordinator_p99_ms hops_coordinator_max_ms \
         hops_bus1_p50_ms hops_bus1_p99_ms hops_bus3_p50_ms hops_bus3_p99_ms \
         nudge_on_max_gap_ms nudge_on_total_ms nudge_on_nudges nudge_off_max_gap_ms nudge_off_total_ms nudge_ratio_total; do
  R[$k]=null
done

FAILED=""
SECTIONS=""
# timed NAME FUNCTION: runs a section, records its seconds and whether it failed
timed() {
  local t0=$SECONDS
  "$2" || FAILED="$FAILED $1"
  SECTIONS="$SECTIONS${SECTIONS:+, }\"$1\": $((SECONDS - t0))"
}
if want ajv; then timed validate_vs_ajv bench_ajv; fi
if want throughput || want latency; then
  start_bus
  if want throughput; then timed throughput bench_throughput; fi
  if want latency; then timed latency bench_latency; fi
  stack_stop
fi
if want dag; then timed dag_vs_make bench_dag; fi
if want hops; then timed hops bench_hops; fi
if want spawn; then timed spawn bench_spawn; fi
if want nudge; then timed fetch_nudge bench_nudge; fi

# record_figures: every figure of the sections that ran, each beside its baseline, on its bus
record_figures() {
  local n=$ROUNDS svc
  if want ajv; then
    bench_fig validate_6 none "validate, 6 steps" "us CPU/doc" "${R[val_6_ours]}" "${R[val_6_ajv]}" ajv ratio_max 1.0 "$n"
    bench_fig validate_300 none "validate, 300 steps" "us CPU/doc" "${R[val_300_ours]}" "${R[val_300_ajv]}" ajv ratio_max 1.0 "$n"
  fi
  if want throughput; then
    for svc in $TP_SERVICES; do
      bench_fig "tp_$svc" "$BUS" "$svc throughput, $EVENTS events" "events/s" "${R[tp_${svc}_ours]}" \
        "${R[tp_${svc}_base]}" "null forwarder" ratio_min 0.5 "$n"
      bench_fig "rss_$svc" "$BUS" "$svc peak RSS, worst round" MiB "${R[rss_$svc]}" "${R[rss_fwd_$svc]}" forwarder max 32 "$n"
    done
  fi
  if want latency; then
    bench_fig lat_p99 "$BUS" "latency p99 at ${RATE}/s" ms "${R[lat_p99]}" "${R[lat_bus_p99]}" "2 forwarders" ratio_max 3.0 "$LAT_ROUNDS"
    bench_fig lat_p50 "$BUS" "latency p50 at ${RATE}/s" ms "${R[lat_p50]}" "${R[lat_bus_p50]}" "2 forwarders" none 0 "$LAT_ROUNDS"
  fi
  if want dag; then
    bench_fig dag "$BUS" "dag ${DAG_STEPS} steps, wall" s "${R[dag_ours]}" "${R[dag_make]}" "make -j2" ratio_max 2.0 "$n"
    bench_fig dag_cpu "$BUS" "dag ${DAG_STEPS} steps, CPU" s "${R[dag_ours_cpu]}" "${R[dag_make_cpu]}" "make -j2" none 0 "$n"
    bench_fig dag_coord "$BUS" "dag ${DAG_STEPS} steps, coordinator alone" s "${R[dag_coord]}" "${R[dag_make]}" "make -j2" none 0 "$n"
    bench_fig dag_coord_cpu "$BUS" "dag ${DAG_STEPS} steps, coordinator's own CPU" s "${R[dag_coord_cpu]}" "${R[dag_make_cpu]}" "make -j2" none 0 "$n"
  fi
  if want hops; then
    bench_fig hops_adapter_p99 "$BUS" "submit -> adapter p99" ms "${R[hops_adapter_p99_ms]}" "${R[hops_bus1_p99_ms]}" "bus 1 topic" none 0 "$n"
    bench_fig hops_adapter_p50 "$BUS" "submit -> adapter p50" ms "${R[hops_adapter_p50_ms]}" "${R[hops_bus1_p50_ms]}" "bus 1 topic" none 0 "$n"
    bench_fig hops_coordinator_p99 "$BUS" "submit -> coordinator p99" ms "${R[hops_coordinator_p99_ms]}" "${R[hops_bus3_p99_ms]}" "bus 2 forwarders" none 0 "$n"
    bench_fig hops_coordinator_p50 "$BUS" "submit -> coordinator p50" ms "${R[hops_coordinator_p50_ms]}" "${R[hops_bus3_p50_ms]}" "bus 2 forwarders" none 0 "$n"
  fi
  if want spawn; then
    bench_fig spawn_sandbox none "local attempt, sandbox" us "${R[spawn_sandbox_total]}" "${R[spawn_off_total]}" "no sandbox" none 0 "$n"
    bench_fig spawn_netns none "local attempt, sandbox + netns" us "${R[spawn_netns_total]}" "${R[spawn_off_total]}" "no sandbox" none 0 "$n"
    bench_fig spawn_volume none "local attempt, sandbox + tmpfs" us "${R[spawn_volume_total]}" "${R[spawn_off_total]}" "no sandbox" none 0 "$n"
    bench_fig spawn_sandbox_cpu none "local attempt CPU, sandbox" us "${R[spawn_sandbox_cpu]}" "${R[spawn_off_cpu]}" "no sandbox" none 0 "$n"
  fi
  if want nudge; then
    bench_fig nudge_total mock "backlog with the fetch nudge" ms "${R[nudge_on_total_ms]}" "${R[nudge_off_total_ms]}" "no nudge" none 0 "$n"
    bench_fig nudge_gap mock "longest gap with the fetch nudge" ms "${R[nudge_on_max_gap_ms]}" "${R[nudge_off_max_gap_ms]}" "no nudge" none 0 "$n"
  fi
}
record_figures

ELAPSED=$(( $(date +%s) - T_START ))
cat >"$RESULTS/$OUT_JSON" <<EOF
{
  "generated": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "bus": "$BUS",
  "host": {"cpus": $(nproc), "loadavg_at_end": "$(cut -d' ' -f1-3 /proc/loadavg)"},
  "rounds": $ROUNDS,
  "elapsed_s": $ELAPSED,
  "failed": "$(echo $FAILED)",
  "sections_s": {$SECTIONS},
  "figures": [
$(bench_figs_json)
  ],
  "throughput": {
    "events": $EVENTS,
    "partitions": {"submitted": ${R[tp_partitions_submitted]}, "prepared": ${R[tp_partitions_prepared]}},
    "adapter": {"events_per_s": ${R[tp_adapter_ours]}, "baseline_events_per_s": ${R[tp_adapter_base]}, "ratio": ${R[tp_adapter_ratio]}, "goal_ratio_min": 0.5},
    "validator": {"events_per_s": ${R[tp_validator_ours]}, "baseline_events_per_s": ${R[tp_validator_base]}, "ratio": ${R[tp_validator_ratio]}, "goal_ratio_min": 0.5}
  },
  "validate_vs_ajv": {
    "ours_us": ${R[val_6_ours]}, "ajv_us": ${R[val_6_ajv]}, "ratio": ${R[val_6_ratio]},
    "steps6": {"bytes": ${R[val_6_bytes]}, "ours_us": ${R[val_6_ours]}, "ajv_us": ${R[val_6_ajv]}, "ratio": ${R[val_6_ratio]}},
    "steps300": {"bytes": ${R[val_300_bytes]}, "ours_us": ${R[val_300_ours]}, "ajv_us": ${R[val_300_ajv]}, "ratio": ${R[val_300_ratio]}},
    "goal_ratio_max": 1.0
  },
  "dag_vs_make": {"steps": $DAG_STEPS, "ours_s": ${R[dag_ours]}, "coordinator_run_s": ${R[dag_coord]}, "make_s": ${R[dag_make]}, "ratio": ${R[dag_ratio]}, "ours_cpu_s": ${R[dag_ours_cpu]}, "make_cpu_s": ${R[dag_make_cpu]}, "coordinator_cpu_s": ${R[dag_coord_cpu]}, "steps_cpu_s": ${R[dag_steps_cpu]}, "goal_ratio_max": 2.0, "hops_ms": $(hop_json dag)},
  "hops": {"runs": ${R[hops_n]}, "stalls_over_500ms": ${R[hops_stalls_over_500ms]}, "adapter_p50_ms": ${R[hops_adapter_p50_ms]}, "adapter_p99_ms": ${R[hops_adapter_p99_ms]}, "adapter_max_ms": ${R[hops_adapter_max_ms]}, "coordinator_p50_ms": ${R[hops_coordinator_p50_ms]}, "coordinator_p99_ms": ${R[hops_coordinator_p99_ms]}, "coordinator_max_ms": ${R[hops_coordinator_max_ms]}, "hops_ms": $(hop_json hops)},
  "latency": {"rate_per_s": $RATE, "seconds": $LAT_S, "rounds": $LAT_ROUNDS, "p50_ms": ${R[lat_p50]}, "p99_ms": ${R[lat_p99]}, "bus_p50_ms": ${R[lat_bus_p50]}, "bus_p99_ms": ${R[lat_bus_p99]}, "ratio_p99": ${R[lat_ratio_p99]}, "goal_ratio_max": 3.0},
  "rss_mb": {"adapter": ${R[rss_adapter]}, "validator": ${R[rss_validator]}, "forwarder_adapter_run": ${R[rss_fwd_adapter]}, "forwarder_validator_run": ${R[rss_fwd_validator]}, "goal_max": 32},
  "spawn_us_per_attempt": {"steps": $DAG_STEPS, "off": {"start": ${R[spawn_off_start]}, "total": ${R[spawn_off_total]}, "cpu": ${R[spawn_off_cpu]}}, "sandbox": {"start": ${R[spawn_sandbox_start]}, "total": ${R[spawn_sandbox_total]}, "cpu": ${R[spawn_sandbox_cpu]}}, "netns": {"start": ${R[spawn_netns_start]}, "total": ${R[spawn_netns_total]}, "cpu": ${R[spawn_netns_cpu]}}, "volume": {"start": ${R[spawn_volume_start]}, "total": ${R[spawn_volume_total]}, "cpu": ${R[spawn_volume_cpu]}}, "ratio_sandbox_total": ${R[spawn_ratio]}},
  "fetch_nudge": {"on": {"max_gap_ms": ${R[nudge_on_max_gap_ms]}, "total_ms": ${R[nudge_on_total_ms]}, "nudges": ${R[nudge_on_nudges]}}, "off": {"max_gap_ms": ${R[nudge_off_max_gap_ms]}, "total_ms": ${R[nudge_off_total_ms]}}, "ratio_total": ${R[nudge_ratio_total]}}
}
EOF

{
  echo
  bench_table
  for n in dag hops; do
    [ "${R[${n}_n]:-null}" = null ] || echo "$n, p50 of each hop (ms):$(for k in $HOP_SEGMENTS; do printf ' %s %s' "$k" "${R[${n}_${k}_p50_ms]:-null}"; done)"
  done
  echo
  echo "bench: wrote $RESULTS/$OUT_JSON (bus: $BUS) in ${ELAPSED}s"
  [ -z "$FAILED" ] || echo "bench: FAILED:$FAILED (their figures are null)"
} | tee "$WORK/table.txt"
[ -z "$FAILED" ]
