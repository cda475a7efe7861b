#!/usr/bin/env bash
# Run ids come from the bus, so they are checked before they become parts of Redis keys: a run id
# naming another run's step ("<victim>:step:s1") or longer than 128 characters is dead-lettered with
# the reason and touches no key; a run whose Redis key was made the wrong type (WRONGTYPE, which no
# retry fixes) is dead-lettered instead of blocking its partition, and the next run on that
# partition (one partition per topic here) still succeeds. Two runs submitted with the same event id
# keep apart: their derived events carry different ids.
# shellcheck disable=SC2034 # variables read inside assert_true's eval
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-runids-XXXXXX)"
trap stack_stop EXIT
export STACK_PARTITIONS=1
stack_start_all

gen=$STACK_DIR/gen
mkdir -p "$gen"
protoc --python_out="$gen" -I"$REPO/proto" "$REPO"/proto/acms/v1/*.proto
cat >"$STACK_DIR/p.yaml" <<'YAML'
apiVersion: acms/v1
kind: Pipeline
metadata: {name: run-ids, labels: {team: security}}
spec:
  steps:
    - {name: s1, type: processing, command: ["true"], instance_type: ml.t3.medium, max_runtime_s: 30,
       output_path: "s3://acme-ml/ids/s1", tags: {cost-center: sec-1}}
YAML
publish() { # run-id [event-id]
  /usr/bin/python3 "$REPO/tests/interop/publish_config.py" --gen "$gen" --brokers "$ACMS_KAFKA_BROKERS" \
    --env dev --run-id "$1" ${2:+--event-id "$2"} "$STACK_DIR/p.yaml" >/dev/null
}
dl_text() { kcat -b "$ACMS_KAFKA_BROKERS" -C -t acms.deadletter -e -o beginning -q -f '%s\n' 2>/dev/null | tr -c '[:print:]\n' '.'; }

# a victim, then an id that names its step, and one too long
victim=victim-$RANDOM
publish "$victim"
wait_for 90 "[ \"\$(stack_redis_cli HGET acms:run:$victim status)\" = succeeded ]" "victim run succeeded"
before=$(topic_count acms.deadletter)
publish "$victim:step:s1"
long=$(printf 'r%.0s' $(seq 1 300))
publish "$long"
wait_for 30 "[ \$(topic_count acms.deadletter) -ge $((before + 2)) ]" "two hostile run ids dead-lettered"
assert_true "dl_text | grep -q 'invalid run_id'" "the dead letter says why (invalid run_id)"
assert_eq "$(stack_redis_cli EXISTS "acms:run:$victim:step:s1:step:s1")" 0 "no key made from the hostile id"
assert_eq "$(stack_redis_cli HGET "acms:run:$victim:step:s1" status)" succeeded "the victim's step record untouched"
assert_eq "$(stack_redis_cli --raw KEYS 'acms:run:rrrr*' | grep -c . || true)" 0 "no key for the long id"

# a key of the wrong type: dead-lettered, not retried forever; the partition moves on
stack_redis_cli SET acms:run:wrongtype-run not-a-hash >/dev/null
before=$(topic_count acms.deadletter)
publish wrongtype-run
wait_for 60 "[ \$(topic_count acms.deadletter) -gt $before ]" "the WRONGTYPE event dead-lettered"
assert_true "dl_text | grep -q 'retrying cannot help'" "the dead letter names the permanent Redis error"
after=next-$RANDOM
publish "$after"
wait_for 90 "[ \"\$(stack_redis_cli HGET acms:run:$after status)\" = succeeded ]" "the next run on the partition succeeded"

# two runs given the same event id: both run, their derived events differ
eid=$(cat /proc/sys/kernel/random/uuid)
publish same-a "$eid"
publish same-b "$eid"
for r in same-a same-b; do
  wait_for 90 "[ \"\$(stack_redis_cli HGET acms:run:$r status)\" = succeeded ]" "run $r with the shared event id succeeded"
done
wait_for 30 "[ -n \"\$(stack_redis_cli HGET acms:feedback:run:same-a status)\" ] && [ -n \"\$(stack_redis_cli HGET acms:feedback:run:same-b status)\" ]" \
  "feedback recorded for both runs"
for s in adapter validator coordinator monitor feedback; do
  assert_true "[ -n \"\$(stack__pid $s-0)\" ]" "acms-$s still running"
done
echo "run-ids: hostile ids and a WRONGTYPE key dead-lettered; the partition moved on; same event id kept apart"
