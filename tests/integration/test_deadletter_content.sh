#!/usr/bin/env bash
# Messages that decode but cannot be real ("impossible content": a ConfigSubmitted with neither a
# document nor a reference, a StepEvent of an unknown kind for no step, an AdaptedEvent for no step,
# an ExecutionResult without steps, a ValidationResultEvent without its result, ...), an unknown
# schema version and a 2 MB payload, on every input topic: each is dead-lettered by every service
# that consumes the topic, with its reason and origin, and no service dies. The quick companion of
# tests/faults/test_faults_poison.sh (same generator, tests/faults/poison.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-dlcontent-XXXXXX)"
trap stack_stop EXIT
stack_start_all
py=$STACK_DIR/py
mkdir -p "$py"
protoc -I"$REPO/proto" --python_out="$py" "$REPO"/proto/acms/v1/*.proto
"$STACK_PY" "$REPO/tests/faults/poison.py" inject --py "$py" --brokers "$ACMS_KAFKA_BROKERS" \
  --manifest "$STACK_DIR/poison.json" --kinds impossible,schema,oversize
"$STACK_PY" "$REPO/tests/faults/poison.py" verify --py "$py" --brokers "$ACMS_KAFKA_BROKERS" \
  --manifest "$STACK_DIR/poison.json" --timeout 30
for s in adapter validator coordinator monitor feedback; do
  assert_true "[ -n \"\$(stack__pid $s-0)\" ]" "acms-$s still running"
done
echo "deadletter content: impossible, unknown-version and oversized events dead-lettered by every consumer"
