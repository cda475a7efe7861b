#!/usr/bin/env bash
# Scenario 1: SIGKILL of each service in turn (adapter, validator, coordinator, monitor, feedback)
# in the middle of a stream of FAULTS_RUNS submitted runs, each restarted a moment later. Every
# run must still succeed exactly once: no lost event (offsets are stored only after the effects),
# no doubled effect (redelivered events are de-duplicated by event id and run/step/attempt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

faults_begin kill 300
faults_start_stack
faults_submit_start
k=0
for s in adapter validator coordinator monitor feedback; do
  k=$((k + 1))
  faults_wait_submitted $((k * FAULTS_RUNS / 6))
  faults__log "SIGKILL acms-$s ($(faults_submitted) runs submitted, $(faults_terminal_count) terminal)"
  stack_stop_service "$s" 0 KILL
  sleep 1  # down for a moment: its input piles up meanwhile
  stack_start_service "$s" 0
done
faults_submit_wait
stack_wait_ready
faults_wait_terminal 240
faults_finish
