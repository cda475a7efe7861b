#!/usr/bin/env bash
# Interoperability of the public contract (proto/): a program in another language, with no ACMS
# code, starts a run. Python classes are generated from proto/ by Debian's protoc; the publisher
# (tests/interop/publish_config.py: python3-confluent-kafka, python3-protobuf, python3-yaml) turns
# a YAML pipeline into a ConfigSubmitted with CloudEvents headers and never touches Redis. The run
# must be created by the adapter and succeed, with the publisher's trace id carried through.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
PY=/usr/bin/python3   # Debian's interpreter: the python3-* packages are installed for it

for need in protoc kcat; do
  command -v "$need" >/dev/null || { echo "FAIL: $need missing (make deps)" >&2; exit 1; }
done
"$PY" -c 'import confluent_kafka, google.protobuf, yaml' 2>/dev/null ||
  { echo "FAIL: python3-confluent-kafka, python3-protobuf, python3-yaml needed (make deps)" >&2; exit 1; }

stack_init "$(mktemp -d /tmp/acms-interop-XXXXXX)"
trap stack_stop EXIT

# classes generated from the contract, as a third party would do it
gen=$STACK_DIR/gen
mkdir -p "$gen"
protoc --python_out="$gen" -I"$REPO/proto" "$REPO"/proto/acms/v1/*.proto
assert_true "[ -f $gen/acms/v1/events_pb2.py ]" "python classes generated from proto/ by protoc"

stack_start_all

cat >"$STACK_DIR/interop.yaml" <<'YAML'
# written by a team that uses its own tooling, not acmsctl
apiVersion: acms/v1
kind: Pipeline
metadata:
  name: interop-python
  labels: {team: platform, origin: "python"}
spec:
  max_parallel: 2
  steps:
    - name: fetch
      type: processing
      command: ["sh", "-c", "echo fetched > fetch.out"]
      instance_type: ml.m5.large
      instance_count: 1
      max_runtime_s: 30
      output_path: s3://acme-ml/interop/fetch
      env: {ROWS: "1000", DRY_RUN: false}
    - name: score
      type: evaluation
      depends_on: [fetch]
      command: ["true"]
      instance_type: ml.t3.medium
      max_runtime_s: 30
      output_path: s3://acme-ml/interop/score
YAML

out=$("$PY" "$REPO/tests/interop/publish_config.py" --gen "$gen" --brokers "$ACMS_KAFKA_BROKERS" \
  --env dev "$STACK_DIR/interop.yaml")
echo "published: $out"
run=$(json_get "$out" run_id)
trace=$(json_get "$out" traceparent | cut -d- -f2)

wait_for 60 "case \"\$(stack_redis_cli HGET acms:run:$run status)\" in succeeded|failed|rejected|cancelled) true;; *) false;; esac" \
  "run $run reached a terminal state"
st=$(stack_redis_cli HGET "acms:run:$run" status)
if [ "$st" != succeeded ]; then
  stack_redis_cli HGETALL "acms:run:$run" >&2
  grep -h "$run" "$STACK_DIR"/*-0.log | tail -n 20 >&2
fi
assert_eq "$st" succeeded "run published from Python succeeded"
assert_eq "$(stack_redis_cli HGET "acms:run:$run" pipeline)" interop-python "pipeline name from the Value tree"
assert_eq "$(stack_redis_cli HGET "acms:run:$run" environment)" dev "environment"
for s in fetch score; do
  assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:$s" status)" succeeded "step $s"
done
assert_eq "$(stack_redis_cli ZSCORE acms:runs "$run" | grep -c .)" 1 "run listed in acms:runs"
assert_eq "$(topic_count_key acms.exec.results "$run")" 1 "exactly one execution result"

# acmsctl reads the run like its own
st_json=$("$BIN/acmsctl" status "$run" --format json)
assert_eq "$(json_get "$st_json" status)" succeeded "acmsctl status of a third-party run"

# the publisher's trace id reached the end of the path
# shellcheck disable=SC2034 # read by the condition assert_true evaluates
hdrs=$(kcat -b "$ACMS_KAFKA_BROKERS" -C -t acms.exec.results -e -o beginning -q -f '%k %h\n' 2>/dev/null |
  grep -F "$run" || true)
assert_true "printf '%s' \"\$hdrs\" | grep -q -F \"traceparent=00-$trace-\"" "trace id of the Python publisher on acms.exec.results"

# a different schema version from the same publisher is refused (dead-lettered), not executed
"$PY" - "$gen" "$ACMS_KAFKA_BROKERS" <<'PY'
import sys, uuid
sys.path.insert(0, sys.argv[1])
from acms.v1 import events_pb2
from confluent_kafka import Producer
ev = events_pb2.ConfigSubmitted(environment="dev")
ev.meta.event_id = str(uuid.uuid4()); ev.meta.run_id = "interop-bad-version"; ev.meta.schema_version = 99
p = Producer({"bootstrap.servers": sys.argv[2]})
p.produce("acms.config.submitted", key=b"interop-bad-version", value=ev.SerializeToString())
assert p.flush(15) == 0
PY
wait_for 30 "[ \$(topic_count_key acms.deadletter interop-bad-version) -ge 1 ]" "unknown schema version dead-lettered"
assert_eq "$(stack_redis_cli HGET acms:run:interop-bad-version status)" "" "no run record for the refused event"
echo "interop: a run published by Python (protoc classes, confluent-kafka) succeeded"
