#!/usr/bin/env bash
# Scenario 6: coordinator replicas killed while steps run. Two replicas share the runs; every
# step sleeps 2 s. coordinator-0 is SIGKILLed (its step processes die with it) and stays down
# longer than the lease (5 s): coordinator-1 takes its runs over once their leases expire,
# records the interrupted attempts LOST and runs the next ones. coordinator-0 comes back; later
# coordinator-1 is SIGKILLed and restarted at once (same instance id: it resumes its own runs).
# Every run succeeds; no succeeded step runs again; every attempt executes at most once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

# Two replicas must share acms.config.validated: the default cooperative-sticky assignor balances
# partitions per member, not per topic (one replica may hold all of it: docs/bus.md), so this
# scenario, about leases and take-overs, uses round-robin through the pass-through properties.
export ACMS_KAFKA_PROP_PARTITION_ASSIGNMENT_STRATEGY=roundrobin
faults_begin coordcrash 2000
faults_start_stack 2
faults_submit_start
lease_ms=5000

# running_on INDEX: how many steps are running under coordinator-INDEX now
running_on() {
  stack_redis_cli --scan --pattern 'acms:run:*:step:*' 2>/dev/null |
    awk '{print "HMGET " $1 " status owner"}' | stack_redis_cli 2>/dev/null | paste -d ' ' - - |
    grep -c -x "running coordinator-$1" || true
}

kill_while_running() { # INDEX: SIGKILL coordinator-INDEX once it has a step running
  local idx=$1 deadline=$(( $(date +%s) + 60 ))
  until [ "$(running_on "$idx")" -gt 0 ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "FAIL: coordinator-$idx never ran a step" >&2; exit 1; }
    sleep 0.2
  done
  faults__log "SIGKILL coordinator-$idx while it runs steps ($(faults_submitted) submitted, $(faults_terminal_count) terminal)"
  stack_stop_service coordinator "$idx" KILL
}

faults_wait_submitted $((FAULTS_RUNS / 3))
kill_while_running 0
sleep $(( lease_ms / 1000 + 3 ))   # down past the lease: the survivor takes the runs over
stack_start_service coordinator 0
faults_wait_submitted $((2 * FAULTS_RUNS / 3))
kill_while_running 1
stack_start_service coordinator 1
faults_submit_wait
stack_wait_ready
faults_wait_terminal 300
faults_finish --min-lost-attempts 1
