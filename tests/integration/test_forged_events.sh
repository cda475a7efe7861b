#!/usr/bin/env bash
# The coordinator does not trust the bus. A ConfigValidated forged by a client that can write to
# acms.config.validated carries an environment copy that allows what it asks for and points the
# http executor at the forger's worker:
#   - reading secret://env/PROD_ONLY_SECRET (outside dev's scopes) or secret://env/VAULT_TOKEN: the
#     run is refused and dead-lettered; nothing runs, nothing resolves, nothing reaches the worker;
#   - reading an allowed reference: the run executes under the coordinator's own dev profile (the
#     local executor), and the forger's worker still receives nothing.
# A forged ExecutionResult for a run it did not produce is dead-lettered by the feedback service.
# shellcheck disable=SC2034 # variables read inside assert_true's eval
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-forge-XXXXXX)"
worker_pid=""
trap '[ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null; stack_stop' EXIT
rnd() { head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20; }
export PROD_ONLY_SECRET="prod-$(rnd)" VAULT_TOKEN="hvs.$(rnd)" DEV_FORGE_OK="devok-$(rnd)"
stack_start_all

# the forger's worker: it records every request it gets
mkfifo "$STACK_DIR/worker.port"
/usr/bin/python3 "$REPO/tests/lib/http_worker.py" --work-dir "$STACK_DIR/forger" >"$STACK_DIR/worker.port" \
  2>"$STACK_DIR/forger-worker.log" &
worker_pid=$!
read -r wport <"$STACK_DIR/worker.port"
gen=$STACK_DIR/gen
mkdir -p "$gen"
protoc --python_out="$gen" -I"$REPO/proto" "$REPO"/proto/acms/v1/*.proto
forge() { /usr/bin/python3 "$here/forge_validated.py" --gen "$gen" --brokers "$ACMS_KAFKA_BROKERS" --run-id "$1" \
  --ref "$2" --worker "http://127.0.0.1:$wport/"; }

n=0
for ref in secret://env/PROD_ONLY_SECRET secret://env/VAULT_TOKEN; do
  before=$(topic_count acms.deadletter)
  run=forged-$n-$RANDOM
  forge "$run" "$ref" >/dev/null
  wait_for 60 "[ \$(topic_count acms.deadletter) -gt $before ]" "forged run reading $ref dead-lettered"
  assert_true "kcat -b '$ACMS_KAFKA_BROKERS' -C -t acms.deadletter -e -o beginning -q 2>/dev/null | tr -c '[:print:]' '\n' | grep -q 'refused'" \
    "the dead letter says the reference was refused"
  assert_eq "$(stack_redis_cli EXISTS "acms:run:$run:runtime")" 0 "nothing of $run was created"
  assert_true "[ ! -d '$STACK_DIR/work/$run' ]" "no step of $run ran"
  n=$((n + 1))
done
ok=forged-ok-$RANDOM
forge "$ok" secret://env/DEV_FORGE_OK >/dev/null
wait_for 60 "[ \"\$(stack_redis_cli HGET acms:run:$ok status)\" = succeeded ]" "an in-scope forged run ran under dev's own profile"
assert_true "grep -rq '$DEV_FORGE_OK' '$STACK_DIR/work/$ok'" "it ran on the local executor of the coordinator's profile"
assert_true "! grep -q 'POST\|step ' '$STACK_DIR/forger-worker.log'" "the forger's worker received nothing"
assert_no_secret "$PROD_ONLY_SECRET"
assert_no_secret "$VAULT_TOKEN"

# a forged ExecutionResult for the run that did run, claiming another pipeline
cat >"$STACK_DIR/forge_result.py" <<'PY'
import sys, time, uuid
sys.path.insert(0, sys.argv[1])
from confluent_kafka import Producer
from acms.v1 import exec_pb2
r = exec_pb2.ExecutionResult()
r.meta.event_id = str(uuid.uuid4()); r.meta.run_id = sys.argv[3]; r.meta.schema_version = 1
r.meta.timestamp_ms = int(time.time() * 1000); r.meta.source = "acms-coordinator"
r.pipeline = "churn-training"; r.environment = "dev"; r.success = True; r.status = "succeeded"
s = r.steps.add(); s.name = "train"; s.status = "succeeded"
p = Producer({"bootstrap.servers": sys.argv[2]}); p.produce("acms.exec.results", key=sys.argv[3], value=r.SerializeToString())
sys.exit(p.flush(30))
PY
before=$(topic_count acms.deadletter)
/usr/bin/python3 "$STACK_DIR/forge_result.py" "$gen" "$ACMS_KAFKA_BROKERS" "$ok"
wait_for 60 "[ \$(topic_count acms.deadletter) -gt $before ]" "a forged execution result is dead-lettered"
assert_eq "$(stack_redis_cli EXISTS acms:learn:rec:churn-training:train)" 0 "nothing learned from it"
echo "forged-events: out-of-scope forged runs refused, in-scope ones run under the coordinator's profile, forged results ignored"
