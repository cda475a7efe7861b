#!/usr/bin/env bash
# Scenario 4: poison messages on every input topic in the middle of a stream of FAULTS_RUNS runs,
# twice: random bytes, a truncated protobuf, an unknown schema version, a 2 MB payload and valid
# protobuf with impossible content (tests/faults/poison.py). Each must reach acms.deadletter once
# per consuming service, with its reason, the service and its origin (topic, partition, offset);
# no service dies, and every run of the stream still succeeds exactly once.
# shellcheck disable=SC2034 # F_FAILED and F_EXTRA_CLEANUP are read by lib.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

faults_begin poison
faults_start_stack
py=$STACK_DIR/py
mkdir -p "$py"
protoc -I"$REPO/proto" --python_out="$py" "$REPO"/proto/acms/v1/*.proto
faults_submit_start

poison() { # ROUND
  faults__log "poison round $1 on every input topic ($(faults_submitted) submitted, $(faults_terminal_count) terminal)"
  "$STACK_PY" "$here/poison.py" inject --py "$py" --brokers "$ACMS_KAFKA_BROKERS" --manifest "$F_WORK/poison.$1.json"
}
faults_wait_submitted $((FAULTS_RUNS / 3))
poison 1
faults_wait_submitted $((2 * FAULTS_RUNS / 3))
poison 2
faults_submit_wait
faults_wait_terminal 240
"$STACK_PY" - "$F_WORK/poison.1.json" "$F_WORK/poison.2.json" >"$F_WORK/poison.json" <<'PY'
import json, sys
print(json.dumps([m for f in sys.argv[1:] for m in json.load(open(f))]))
PY
"$STACK_PY" "$here/poison.py" verify --py "$py" --brokers "$ACMS_KAFKA_BROKERS" --manifest "$F_WORK/poison.json" ||
  F_FAILED="poison messages not dead-lettered as required"
faults_finish
