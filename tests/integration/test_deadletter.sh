#!/usr/bin/env bash
# Garbage on every input topic lands on acms.deadletter with its reason and origin, no service
# dies, and a pipeline submitted afterwards still succeeds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-dlq-XXXXXX)"
trap stack_stop EXIT
export CHURN_DB_PASSWORD="dlq-$RANDOM"   # the example pipeline reads it through secret://env/
stack_start_all

inputs="acms.config.submitted acms.exec.adaptations acms.config.prepared acms.exec.steps acms.config.validated \
acms.exec.adapted acms.control acms.exec.results acms.validation.results acms.monitor.alerts"
n=0
for t in $inputs; do
  printf 'this is not protobuf \xff\xfe' | kcat -b "$ACMS_KAFKA_BROKERS" -P -t "$t" -k "garbage-$t"
  head -c 300 /dev/urandom | kcat -b "$ACMS_KAFKA_BROKERS" -P -t "$t" -k "random-$t"
  n=$((n + 2))
done
# several services consume some topics (acms.exec.steps: validator and monitor), so the count can
# reach n before every origin is there: wait for every origin by name. The checks below read the
# snapshot that satisfied the wait (dl): a second read of the topic (kcat -e -q) can come back short.
dead_letters() { kcat -b "$ACMS_KAFKA_BROKERS" -C -t acms.deadletter -e -o beginning -q -f '%s\n' 2>/dev/null | tr -c '[:print:]\n' '.'; }
dl=""
all_named() { local t; dl=$(dead_letters); for t in $inputs; do grep -q "$t" <<<"$dl" || return 1; done; }
wait_for 60 "[ \$(topic_count acms.deadletter) -ge $n ] && all_named" "$n dead letters, every origin named"
for t in $inputs; do
  assert_true "echo \"\$dl\" | grep -q \"$t\"" "dead letter names origin $t"
done
assert_true "echo \"\$dl\" | grep -q 'undecodable protobuf'" "dead letter carries the reason"
for s in adapter validator coordinator monitor feedback; do
  assert_true "[ -n \"\$(stack__pid $s-0)\" ]" "acms-$s still running"
done
out=$("$BIN/acmsctl" submit "$ACMS_REPO/examples/pipelines/churn-training.yaml" --env dev --wait --format json --timeout 120) || { echo "$out"; exit 1; }
assert_eq "$(json_get "$out" status)" succeeded "a run after the garbage"
echo "deadletter: $n poison messages dead-lettered; services alive; next run succeeded"
