#!/usr/bin/env bash
# Scenario 3: redis-server SIGKILLed mid-stream and restarted on the same port from its AOF
# (appendfsync everysec: a process crash loses nothing acknowledged, since Redis write(2)s the AOF
# before it replies; only the fsync is deferred). A first outage outlasts the coordinator's lease
# (5 s), a second is short. Meanwhile services see ACMS_ERR_RETRY, back off and hold their offsets;
# acmsctl submissions refused while Redis is away (exit 3) are retried and not counted. Afterwards
# every acknowledged run succeeds exactly once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

faults_begin redis 500
faults_start_stack
faults_submit_start

outage() { # SECONDS
  faults__log "SIGKILL redis-server for $1 s ($(faults_submitted) submitted, $(faults_terminal_count) terminal)"
  stack_stop_redis KILL
  sleep "$1"
  stack_start_redis
}

faults_wait_submitted $((FAULTS_RUNS / 3))
outage 7
faults_wait_submitted $((2 * FAULTS_RUNS / 3))
outage 2
faults_submit_wait
stack_wait_ready
faults_wait_terminal 240
faults_finish
