# shellcheck shell=bash
# lib.sh: shared by the fault scenarios (tests/faults/test_faults_*.sh). Each scenario starts its
# own stack (tests/lib/stack.sh), submits a stream of at least FAULTS_RUNS runs with acmsctl (the
# real client, in FAULTS_STREAMS background loops that retry a submission the client reports as
# failed), injects its fault mid-stream, waits for every acknowledged run to end, and runs
# tests/faults/check.py: every run in its correct terminal state (lost=0), no effect twice
# (duplicated=0). Every step is `acms-stepload --touch FILE`, so each execution leaves one line
# "<run> <step> <attempt>" behind.
#
#   source tests/faults/lib.sh
#   faults_begin kill 300             # stack dir, pipeline (steps sleep 300 ms) written, trap set
#   faults_start_stack                # redis, devbroker, the five services, ready
#   faults_submit_start               # background stream of $FAULTS_RUNS runs
#   faults_wait_submitted 50          # mid-stream
#   ... fault ...
#   faults_submit_wait; faults_wait_terminal 120
#   faults_finish                     # check.py, summary line, exit status
#
# Variables: FAULTS_RUNS (default 200), FAULTS_STREAMS (parallel submit loops, default 2),
# FAULTS_SUMMARY (a file: one tab-separated row per scenario is appended for tests/faults/run.sh),
# FAULTS_KEEP=1 keeps the stack directory. acmsctl exit codes: 0 acknowledged, 3 bus or Redis
# unreachable (retried after a pause); only acknowledged runs count as submitted.

FAULTS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/stack.sh
source "$FAULTS_LIB_DIR/../lib/stack.sh"
# shellcheck source=../lib/assert.sh
source "$FAULTS_LIB_DIR/../lib/assert.sh"

FAULTS_RUNS=${FAULTS_RUNS:-200}
FAULTS_STREAMS=${FAULTS_STREAMS:-2}
F_SUBMITTERS=""

faults__log() { echo "faults[$F_NAME] $(date +%T): $*" >&2; }

faults__cleanup() {
  local rc=$? p
  for p in $F_SUBMITTERS; do kill "$p" 2>/dev/null || true; done
  [ -n "${F_EXTRA_CLEANUP:-}" ] && eval "$F_EXTRA_CLEANUP"
  if [ "$rc" -ne 0 ] && [ -n "$(stack__pid broker)" ]; then  # the devbroker is in memory: keep the topics
    "$STACK_PY" "$FAULTS_LIB_DIR/dump_topics.py" "$ACMS_KAFKA_BROKERS" "$STACK_DIR/topics" >/dev/null 2>&1 || true
  fi
  stack_stop
  if [ "$rc" -ne 0 ] || [ "${FAULTS_KEEP:-0}" = 1 ]; then
    echo "faults[$F_NAME]: stack directory kept: $STACK_DIR" >&2
  else
    rm -rf "$STACK_DIR"
  fi
  exit "$rc"
}

# faults_begin NAME [SLEEP_MS]: the scenario's stack directory (removed at exit unless it failed or
# FAULTS_KEEP=1; a failed scenario also keeps every topic in topics/, see dump_topics.py) and its
# pipeline (a unique name; two steps, the second depends on the first; each sleeps SLEEP_MS).
faults_begin() {
  F_NAME=$1
  local sleep_ms=${2:-0}
  F_T0=$(date +%s)
  stack_init "$(mktemp -d "/tmp/acms-faults-$F_NAME-XXXXXX")"
  trap faults__cleanup EXIT
  F_WORK=$STACK_DIR/faults
  mkdir -p "$F_WORK"
  F_TOUCH=$STACK_SHARED/executions.txt
  F_PIPELINE=faults-$F_NAME-$RANDOM
  F_STEPS="prep,train"
  F_YAML=$F_WORK/pipeline.yaml
  : >"$F_TOUCH"
  chmod 0666 "$F_TOUCH"  # steps append to it as the step user
  cat >"$F_YAML" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: $F_PIPELINE, labels: {team: reliability}}
spec:
  steps:
    - name: prep
      type: processing
      command: ["$BIN/acms-stepload", "--sleep-ms", "$sleep_ms", "--touch", "$F_TOUCH"]
      instance_type: ml.t3.medium
      max_runtime_s: 120
      output_path: s3://acme-ml/faults/prep
      tags: {cost-center: cc-1}
    - name: train
      type: training
      depends_on: [prep]
      command: ["$BIN/acms-stepload", "--sleep-ms", "$sleep_ms", "--touch", "$F_TOUCH"]
      instance_type: ml.t3.medium
      max_runtime_s: 120
      output_path: s3://acme-ml/faults/train
      tags: {cost-center: cc-1}
YAML
}

# faults_start_stack [COORDINATORS]: redis, broker, the five services (COORDINATORS coordinator
# replicas, default 1), all ready.
faults_start_stack() {
  local ncoord=${1:-1} i
  stack_start_all || return 1
  for i in $(seq 1 $((ncoord - 1))); do stack_start_service coordinator "$i" || return 1; done
  stack_wait_ready || return 1
  stack_write_env "$F_WORK/stack.env"
}

# One submit loop: COUNT acknowledged runs appended to FILE.
faults__submit_loop() {
  local count=$1 file=$2 done_n=0 out rc t0 file_tag
  file_tag=$(basename "$file")
  while [ "$done_n" -lt "$count" ]; do
    t0=$(date +%s.%N)
    out=$("$BIN/acmsctl" submit "$F_YAML" --env dev --quiet 2>>"$F_WORK/submit.err") && rc=0 || rc=$?
    echo "$t0 $(date +%s.%N) $rc" >>"$F_WORK/submit.times.$file_tag"
    if [ "$rc" -eq 0 ] && [ -n "$out" ]; then
      echo "$out" >>"$file"
      done_n=$((done_n + 1))
      [ -n "${FAULTS_PACE_S:-}" ] && sleep "$FAULTS_PACE_S"
    else
      echo "rc=$rc $(date +%T)" >>"$F_WORK/submit.failed"
      sleep 0.5
    fi
  done
}

# faults_submit_start [N]: N (default FAULTS_RUNS) runs in FAULTS_STREAMS background loops.
faults_submit_start() {
  local n=${1:-$FAULTS_RUNS} k share
  for k in $(seq 1 "$FAULTS_STREAMS"); do
    share=$((n / FAULTS_STREAMS + (k <= n % FAULTS_STREAMS ? 1 : 0)))
    faults__submit_loop "$share" "$F_WORK/runs.$k" &
    F_SUBMITTERS="$F_SUBMITTERS $!"
  done
  faults__log "submitting $n runs of $F_PIPELINE in $FAULTS_STREAMS streams"
}

faults_submitted() { cat "$F_WORK"/runs.* 2>/dev/null | grep -c . || true; }

# faults_wait_submitted N [TIMEOUT_S]: until N runs were acknowledged.
faults_wait_submitted() {
  local n=$1 deadline=$(( $(date +%s) + ${2:-300} ))
  while [ "$(faults_submitted)" -lt "$n" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then faults__log "only $(faults_submitted) of $n submitted"; return 1; fi
    sleep 0.2
  done
}

faults_submit_wait() {
  local p
  for p in $F_SUBMITTERS; do wait "$p" || true; done
  F_SUBMITTERS=""
  cat "$F_WORK"/runs.* >"$F_WORK/submitted.txt" 2>/dev/null || : >"$F_WORK/submitted.txt"
  faults__log "$(grep -c . "$F_WORK/submitted.txt") runs acknowledged, $( (wc -l <"$F_WORK/submit.failed") 2>/dev/null || echo 0) submission(s) refused and retried"
}

# Terminal runs among those acknowledged so far.
faults_terminal_count() {
  cat "$F_WORK"/runs.* 2>/dev/null | awk 'NF {print "HGET acms:run:" $1 " status"}' | stack_redis_cli 2>/dev/null |
    grep -c -x -E 'succeeded|failed|cancelled|rejected' || true
}

# faults_wait_terminal TIMEOUT_S: until every acknowledged run is terminal (no failure on timeout:
# the end check counts what is missing).
faults_wait_terminal() {
  local deadline=$(( $(date +%s) + $1 )) total term
  total=$(faults_submitted)
  while :; do
    term=$(faults_terminal_count)
    [ "$term" -ge "$total" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then faults__log "timed out: $term of $total runs terminal"; break; fi
    sleep 0.5
  done
  faults__log "$term of $total runs terminal"
}

# faults_assert_alive: every service process started for the scenario still runs (none crashed).
faults_assert_alive() {
  local id dead=""
  while read -r id; do
    [ -n "$id" ] || continue
    [ -n "$(stack__pid "$id")" ] || dead="$dead $id"
  done <"$STACK_DIR/services"
  if [ -n "$dead" ]; then
    for id in $dead; do echo "--- $id.log (tail)" >&2; tail -n 30 "$STACK_DIR/$id.log" >&2; done
    echo "FAIL: service(s) not running:$dead" >&2
    return 1
  fi
  echo "ok: every service still running"
}

# faults_finish [EXTRA CHECK ARGS...]: the end check (a scenario's own failed checks, named in
# F_FAILED, fail it too); prints the summary line, appends the row to
# $FAULTS_SUMMARY, exits non-zero when something was lost or duplicated.
faults_finish() {
  local out rc secs line
  [ -s "$F_WORK/submitted.txt" ] || faults_submit_wait
  set +e
  out=$("$STACK_PY" "$FAULTS_LIB_DIR/check.py" --redis-port "$(cat "$STACK_DIR/redis.port")" \
    --brokers "$ACMS_KAFKA_BROKERS" --runs "$F_WORK/submitted.txt" --touch "$F_TOUCH" \
    --pipeline "$F_PIPELINE" --steps "$F_STEPS" --min-runs "$FAULTS_RUNS" \
    --fix-key "acms:learn:fix:POL-OWNER-TAG POL-OWNER-TAG:policy-fix:offered" "$@")
  rc=$?
  set -e
  echo "$out"
  faults_assert_alive || rc=1
  if [ -n "${F_FAILED:-}" ]; then echo "FAIL: $F_FAILED" >&2; rc=1; fi
  secs=$(( $(date +%s) - F_T0 ))
  line=$(echo "$out" | grep -E '^submitted=' | tail -n 1)
  [ -n "$line" ] || { line="submitted=? terminal=? lost=? duplicated=?"; rc=1; }
  if [ -n "${FAULTS_SUMMARY:-}" ]; then
    # scenario submitted terminal lost duplicated seconds
    echo "$line" | sed -E "s/^submitted=([^ ]*) terminal=([^ ]*) lost=([^ ]*) duplicated=([^ ]*).*/$F_NAME\t\1\t\2\t\3\t\4\t$secs/" \
      >>"$FAULTS_SUMMARY"
  fi
  echo "$F_NAME: $line (${secs}s)"
  [ "$rc" -eq 0 ] || { echo "FAIL: $F_NAME: lost or duplicated effects (see above)" >&2; exit 1; }
}

# faults_broker_batch: devbroker control commands from stdin, one per line, over one connection
# (tools/devbroker-ctl starts a process per command: too slow for 72 leader moves). Fails on the
# first answer that is not "ok".
faults_broker_batch() {
  "$STACK_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rb")
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    s.sendall((line + "\n").encode())
    answer = f.readline().decode(errors="replace").strip()
    if not answer.startswith("ok"):
        sys.exit("devbroker: %s: %s" % (line, answer))
' "$(stack__broker_sock)"
}

# faults_lag: the consumer lag summed over every running service (their /metrics gauge
# acms_consumer_lag, refreshed each second); empty when a service does not answer.
faults_lag() {
  local id total=0 v
  while read -r id; do
    if [ -z "$id" ] || [ -z "$(stack__pid "$id")" ]; then continue; fi
    v=$(curl -fsS -m 2 "http://127.0.0.1:$(cat "$STACK_DIR/$id.port")/metrics" 2>/dev/null |
        awk '/^acms_consumer_lag[{ ]/ {s += $NF} END {print s + 0}') || return 0
    [ -n "$v" ] || return 0
    total=$((total + ${v%.*}))
  done <"$STACK_DIR/services"
  echo "$total"
}

# faults_wait_idle TIMEOUT_S: until every service has consumed everything (lag 0 three times in a
# row, a second apart).
faults_wait_idle() {
  local deadline=$(( $(date +%s) + $1 )) zero=0 lag
  while [ "$zero" -lt 3 ]; do
    lag=$(faults_lag)
    if [ "$lag" = 0 ]; then zero=$((zero + 1)); else zero=0; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then faults__log "consumers still lagging ($lag)"; return 1; fi
    sleep 1
  done
}
