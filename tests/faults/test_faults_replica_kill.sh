#!/usr/bin/env bash
# Scenario 7: three replicas of the adapter, the validator and the monitor (one consumer group each,
# cooperative-sticky), and every 2 s one of them SIGKILLed and started again, round robin, until
# every run of the stream of FAULTS_RUNS is terminal (at least three kills of each service). Each kill loses that member's partitions to the others
# (after the session timeout, 6 s here) and each restart takes some back: incremental rebalances
# under load, events collected by a member whose partitions were revoked dropped unprocessed, and
# the new owner redelivering from the last commit. Expected: 0 lost, 0 duplicated.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

# a killed member is noticed after the session timeout: the broker's minimum by default
export ACMS_KAFKA_SESSION_TIMEOUT_MS=6000 ACMS_KAFKA_HEARTBEAT_MS=500
SERVICES="adapter validator monitor"
faults_begin replica_kill 500
faults_start_stack
for s in $SERVICES; do
  for i in 1 2; do stack_start_service "$s" "$i"; done
done
stack_wait_ready
faults_submit_start
kills=0 k=0
# until every run is terminal, and at least three kills of each service (at most 60)
while { [ "$(faults_terminal_count)" -lt "$FAULTS_RUNS" ] || [ "$kills" -lt 9 ]; } && [ "$kills" -lt 60 ]; do
  sleep 2
  read -r -a svc <<<"$SERVICES"
  s=${svc[$(( k % 3 ))]} i=$(( (k / 3) % 3 ))
  k=$((k + 1)) kills=$((kills + 1))
  faults__log "SIGKILL acms-$s replica $i ($(faults_submitted) submitted, $(faults_terminal_count) terminal)"
  stack_stop_service "$s" "$i" KILL
  sleep 1
  stack_start_service "$s" "$i" >/dev/null
done
faults__log "$kills kills"
faults_submit_wait
stack_wait_ready
faults_wait_terminal 300
faults_finish
