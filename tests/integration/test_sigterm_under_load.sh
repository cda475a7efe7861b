#!/usr/bin/env bash
# Graceful shutdown under load: while 40 runs are being submitted, the adapter, then the validator,
# then the coordinator get SIGTERM. Each must exit 0 within the documented bound
# (ACMS_SHUTDOWN_TIMEOUT_MS + 2 s: the stop is seen within a second, then the flush and commit share
# the shutdown budget) after stopping fetching, finishing its events, flushing and committing; it is
# restarted at once. Then every run must succeed, with exactly one acms.exec.results message per
# run, and no step attempt executed twice (each attempt appends one line to a file when it starts).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

RUNS=${SIGTERM_RUNS:-40}
export ACMS_SHUTDOWN_TIMEOUT_MS=5000
BOUND_MS=$((ACMS_SHUTDOWN_TIMEOUT_MS + 2000))

stack_init "$(mktemp -d /tmp/acms-sigterm-XXXXXX)"
trap stack_stop EXIT

# start_child NAME: like stack_start_service NAME 0, but as a child of this shell, so that `wait`
# returns its exit status. Recorded in $STACK_DIR like the others, so stack_stop cleans up.
declare -A CHILD
start_child() {
  local name=$1 id=$1-0 port
  if [ -f "$STACK_DIR/$id.port" ]; then port=$(cat "$STACK_DIR/$id.port"); else port=$(stack_free_port); fi
  echo "$port" >"$STACK_DIR/$id.port"
  grep -q -x -F "$id" "$STACK_DIR/services" || echo "$id" >>"$STACK_DIR/services"
  ACMS_HTTP_PORT=$port ACMS_HTTP_ADDR=127.0.0.1 ACMS_INSTANCE_ID=$id ACMS_CONFIG_DIR=${ACMS_CONFIG_DIR:-$REPO/examples} \
    ACMS_WORK_DIR=$STACK_DIR/work "$BIN/acms-$name" </dev/null >>"$STACK_DIR/$id.log" 2>&1 &
  CHILD[$name]=$!
  echo "${CHILD[$name]} acms-$name" >"$STACK_DIR/$id.pid"
}

# term NAME: SIGTERM, wait for the exit; checks status 0 within the bound and the orderly log lines
term() {
  local name=$1 pid=${CHILD[$1]} t0 t1 rc=0 ms
  local lines_before
  lines_before=$(wc -l <"$STACK_DIR/$name-0.log")
  t0=$(date +%s%N)
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  assert_eq "$rc" 0 "acms-$name exit status after SIGTERM under load"
  assert_true "[ $ms -le $BOUND_MS ]" "acms-$name stopped in $ms ms (bound $BOUND_MS ms)"
  tail -n +"$((lines_before + 1))" "$STACK_DIR/$name-0.log" >"$STACK_DIR/$name.shutdown.log"
  assert_true "grep -q 'shutting down (requested)' $STACK_DIR/$name.shutdown.log && grep -q '\"stopped\"' $STACK_DIR/$name.shutdown.log" \
    "acms-$name shut down in order"
  assert_true "! grep -q 'not acknowledged' $STACK_DIR/$name.shutdown.log" "acms-$name: every produced event acknowledged"
}

stack_start_redis
stack_start_broker 6
for s in adapter validator coordinator; do start_child "$s"; done
stack_wait_ready 60

touch_file=$STACK_SHARED/attempts.log
: >"$touch_file"
chmod 0666 "$touch_file"  # steps append to it as the step user
cat >"$STACK_DIR/load.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: sigterm-load}
spec:
  steps:
    - name: a
      type: processing
      command: ["$BIN/acms-stepload", "--touch", "$touch_file", "--sleep-ms", "400"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/sigterm/a
    - name: b
      type: processing
      depends_on: [a]
      command: ["$BIN/acms-stepload", "--touch", "$touch_file", "--sleep-ms", "400"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/sigterm/b
YAML

# the stream: fire-and-forget submissions, two at a time, in the background (each prints its run
# id in one write to the shared file)
runs_file=$STACK_DIR/runs.txt
: >"$runs_file"
seq 1 "$RUNS" | xargs -P 2 -I{} sh -c '"$1" submit "$2" --env dev --quiet >>"$3" 2>>"$4" || echo "submit {} failed" >>"$4"' \
  sh "$BIN/acmsctl" "$STACK_DIR/load.yaml" "$runs_file" "$STACK_DIR/submit.err" &
submitter=$!

submitted() { wc -l <"$runs_file"; }
victims=(adapter validator coordinator)
for k in 0 1 2; do
  at=$(( (k + 1) * RUNS / 4 ))
  wait_for 60 "[ \$(submitted) -ge $at ]" "$at runs submitted"
  if [ "${victims[$k]}" = coordinator ]; then  # stop it while it executes runs
    wait_for 30 "[ \$(stack_redis_cli SCARD acms:runs:active) -ge 1 ]" "runs being executed"
  fi
  term "${victims[$k]}"
  start_child "${victims[$k]}"
done
wait "$submitter"
assert_eq "$(submitted)" "$RUNS" "all $RUNS runs submitted"
assert_true "[ ! -s $STACK_DIR/submit.err ]" "no submission failed"
stack_wait_ready 60

terminal() {
  local n=0 run st
  while read -r run; do
    st=$(stack_redis_cli HGET "acms:run:$run" status)
    case $st in succeeded|failed|rejected|cancelled) n=$((n + 1)) ;; esac
  done <"$runs_file"
  echo "$n"
}
wait_for 90 "[ \$(terminal) -eq $RUNS ]" "all $RUNS runs reached a terminal state"
bad=0
while read -r run; do
  st=$(stack_redis_cli HGET "acms:run:$run" status)
  if [ "$st" != succeeded ]; then echo "run $run: $st ($(stack_redis_cli HGET "acms:run:$run" reason))" >&2; bad=$((bad + 1)); fi
done <"$runs_file"
assert_eq "$bad" 0 "runs not succeeded"

# exactly one execution result per run, and none for anything else
kcat -b "$ACMS_KAFKA_BROKERS" -C -t acms.exec.results -e -o beginning -q -f '%k\n' 2>/dev/null | sort >"$STACK_DIR/results.keys"
assert_eq "$(wc -l <"$STACK_DIR/results.keys")" "$RUNS" "acms.exec.results messages"
assert_eq "$(sort -u "$STACK_DIR/results.keys" | wc -l)" "$RUNS" "distinct runs on acms.exec.results"
assert_eq "$(sort "$runs_file" | comm -3 - "$STACK_DIR/results.keys" | wc -l)" 0 "results are exactly the submitted runs"

# no step attempt started twice; every run's two steps ran
assert_eq "$(sort "$touch_file" | uniq -d | wc -l)" 0 "duplicate step attempts"
assert_eq "$(awk '{ print $1, $2 }' "$touch_file" | sort -u | wc -l)" $((RUNS * 2)) "steps that ran (run x step)"
retried=$(awk '$3 > 1' "$touch_file" | wc -l)
echo "runs: $RUNS succeeded; step attempts: $(wc -l <"$touch_file") ($retried retried after the coordinator's restart)"
