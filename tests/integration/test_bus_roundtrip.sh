#!/usr/bin/env bash
# The bus and the stack library themselves: redis-server and acms-devbroker start on free loopback
# ports; kcat produces and consumes on an ACMS topic (every message back, keys and headers intact);
# the control socket answers ping, a broker-down/up cycle and an injected produce error, and the
# bus works again after each fault; stopping leaves no process, socket or env file behind.
# shellcheck disable=SC2034 # variables read inside assert_true's eval
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-bus-XXXXXX)"
trap stack_stop EXIT
stack_start_redis
stack_start_devbroker 3  # the devbroker itself, whatever ACMS_BUS says

assert_eq "$(stack_redis_cli PING)" PONG "redis-server answers on $ACMS_REDIS_URL"
assert_eq "$(stack_redis_cli CONFIG GET appendonly | tail -n 1)" yes "redis runs with AOF"
assert_true "[[ \$ACMS_KAFKA_BROKERS == 127.0.0.1:* ]]" "broker on loopback ($ACMS_KAFKA_BROKERS)"

topics="acms.config.submitted acms.config.prepared acms.config.validated acms.validation.results
  acms.exec.steps acms.exec.results acms.exec.adaptations acms.exec.adapted acms.monitor.alerts
  acms.feedback.insights acms.control acms.deadletter"
# A metadata answer given while the mock cluster still elects a partition's leader can name a topic
# with an error instead of its partitions: ask again until every topic is listed whole (10 s at most)
# rather than judging the first answer; the assertions below then name any topic still missing.
listed_all() { local t; for t in $topics; do grep -q "topic \"$t\" with 3 partitions" <<<"$meta" || return 1; done; }
for _ in $(seq 1 50); do
  meta=$(kcat -b "$ACMS_KAFKA_BROKERS" -L -m 10 2>&1 || true)
  listed_all && break
  sleep 0.2
done
listed_all || echo "$meta" >&2
for t in $topics; do
  assert_true "echo \"\$meta\" | grep -q 'topic \"$t\" with 3 partitions'" "topic $t exists with 3 partitions"
done

# round trip: 50 keyed messages with a header
topic=acms.control
for i in $(seq 1 50); do echo "run-$i:payload-$i"; done |
  kcat -b "$ACMS_KAFKA_BROKERS" -P -t "$topic" -K: -H ce_type=acms.test -X linger.ms=5
consumed() { kcat -b "$ACMS_KAFKA_BROKERS" -C -t "$topic" -e -o beginning -q -f '%k=%s|%h\n' 2>/dev/null; }
out=$(consumed)
assert_eq "$(echo "$out" | grep -c .)" 50 "50 produced, 50 consumed"
assert_eq "$(echo "$out" | grep -c -x 'run-7=payload-7|ce_type=acms.test')" 1 "key, value and header kept"
assert_eq "$(echo "$out" | cut -d'|' -f1 | sort -u | wc -l)" 50 "no duplicates"

# control socket
assert_eq "$(stack_broker_ctl ping)" ok "control: ping"
assert_eq "$(stack_broker_ctl broker-down 1)" ok "control: broker-down 1"
assert_true "! kcat -b \"\$ACMS_KAFKA_BROKERS\" -L -m 2 >/dev/null 2>&1" "metadata fails while the broker is down"
assert_eq "$(stack_broker_ctl broker-up 1)" ok "control: broker-up 1"
echo "run-51:payload-51" | kcat -b "$ACMS_KAFKA_BROKERS" -P -t "$topic" -K:
wait_for 20 "[ \$(consumed | grep -c .) -eq 51 ]" "produce and consume again after broker-up"

assert_eq "$(stack_broker_ctl request-errors produce 2 NOT_LEADER_FOR_PARTITION)" ok "control: request-errors"
echo "run-52:payload-52" | kcat -b "$ACMS_KAFKA_BROKERS" -P -t "$topic" -K:
wait_for 20 "[ \$(consumed | grep -c .) -eq 52 ]" "a produce retried through injected errors arrives once"
assert_eq "$(stack_broker_ctl rtt 1 0)" ok "control: rtt"
assert_eq "$(stack_broker_ctl leader acms.control 0 1)" ok "control: leader"
assert_eq "$(stack_broker_ctl coordinator group acms-test 1)" ok "control: coordinator"
set +e
stack_broker_ctl no-such-command >/dev/null 2>&1; rc=$?
set -e
assert_eq "$rc" 1 "an unknown command is an error (exit 1)"

# a pipelined SET through redis-cli, then a clean stop
stack_redis_cli SET acms:test:bus ok >/dev/null
assert_eq "$(stack_redis_cli GET acms:test:bus)" ok "redis SET/GET"
sock=$(cat "$STACK_DIR/broker.sockpath")
stack_stop
assert_true "[ ! -e \"\$STACK_DIR/broker.env\" ] && [ ! -S \"\$sock\" ]" "broker removed its env file and socket"
assert_true "[ ! -e \"\$STACK_DIR/broker.pid\" ] && [ ! -e \"\$STACK_DIR/redis.pid\" ]" "nothing left running"
rm -rf "$STACK_DIR"
echo "bus roundtrip: ok"
