#!/usr/bin/env bash
# Credentials for the bus and Redis pass through from the environment, and never show:
#   Redis AUTH: redis-server requires a password; the five services given
#     ACMS_REDIS_URL=redis://:<password>@host:port run a pipeline to success; a replica given a wrong
#     password never becomes ready and says why; neither password appears in any log, topic or key.
#   Kafka SASL/TLS: ACMS_KAFKA_SECURITY_PROTOCOL, ACMS_KAFKA_SASL_MECHANISM/USERNAME/PASSWORD and
#     ACMS_KAFKA_SSL_CA_LOCATION reach librdkafka as given: against the devbroker (plaintext only)
#     a replica configured for SASL_PLAINTEXT reports the broker's missing SASL handshake, one
#     configured for SSL with a missing CA file refuses to start naming ssl.ca.location, an unknown
#     protocol is refused naming the value; the SASL password is never written anywhere.
#   With ACMS_BUS=kafka the broker has a SASL_PLAINTEXT listener (PLAIN: Debian's librdkafka 2.0.2
#     cannot complete SCRAM with Kafka 4.x, docs/bus.md) with ACLs per
#     service principal (tests/lib/KafkaAcls.java): the five services and acmsctl run the pipeline end
#     to end through it; a replica with a wrong SASL password reports the authentication failure and
#     is never ready; an adapter whose principal lacks WRITE on acms.config.prepared fails clearly
#     (TOPIC_AUTHORIZATION_FAILED: dead letter, error log, acms_delivery_refused_total) and never
#     wedges: the refused run is not retried, and the next adapter serves the next run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-creds-XXXXXX)"
trap stack_stop EXIT
rnd() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }
REDIS_PW="redispw-$(rnd)"
WRONG_PW="wrongpw-$(rnd)"
SASL_PW="saslpw-$(rnd)"
CHURN_DB_PASSWORD="creds-$(rnd)"
export CHURN_DB_PASSWORD

KAFKA_SASL=0
[ "$(stack_bus)" = kafka ] && KAFKA_SASL=1
if [ "$KAFKA_SASL" = 1 ]; then
  users=""
  for s in $STACK_SERVICES_ALL acmsctl x-adapter; do users="$users acms-$s:$SASL_PW"; done
  export STACK_KAFKA_SASL=1 STACK_KAFKA_USERS=$users
fi
stack_start_redis
stack_start_broker "${STACK_PARTITIONS:-6}"
unset STACK_KAFKA_USERS
# as_principal NAME CMD...: CMD with the bus reached through the SASL listener as acms-NAME
as_principal() {
  local who=$1; shift
  ACMS_KAFKA_BROKERS=$ACMS_KAFKA_SASL_BROKERS ACMS_KAFKA_SECURITY_PROTOCOL=sasl_plaintext \
    ACMS_KAFKA_SASL_MECHANISM=PLAIN ACMS_KAFKA_SASL_USERNAME="acms-$who" ACMS_KAFKA_SASL_PASSWORD="$SASL_PW" "$@"
}
if [ "$KAFKA_SASL" = 1 ]; then
  stack_kafka_acls acms- >/dev/null
  stack_kafka_acls acms-x- --deny-write adapter:acms.config.prepared
  ctl() { as_principal acmsctl "$BIN/acmsctl" "$@"; }
  start() { as_principal "$1" stack_start_service "$1" 0; }
else
  ctl() { "$BIN/acmsctl" "$@"; }
  start() { stack_start_service "$1" 0; }
fi
port=$(cat "$STACK_DIR/redis.port")
stack_redis_cli CONFIG SET requirepass "$REDIS_PW" >/dev/null
export REDISCLI_AUTH=$REDIS_PW   # stack_redis_cli (redis-cli) authenticates from here on
assert_true "[ \"\$(redis-cli -h 127.0.0.1 -p $port --no-auth-warning -a '$WRONG_PW' PING 2>&1)\" != PONG ]" \
  "redis-server refuses a wrong password"
export ACMS_REDIS_URL="redis://:$REDIS_PW@127.0.0.1:$port"
for s in $STACK_SERVICES_ALL; do start "$s"; done
stack_wait_ready 90
out=$(ctl submit "$REPO/examples/pipelines/churn-training.yaml" --env dev --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "a run succeeds with Redis AUTH from ACMS_REDIS_URL$(
  [ "$KAFKA_SASL" = 1 ] && echo " and every client on Kafka's SASL listener under its own ACLs")"
assert_eq "$(stack_redis_cli HGET "acms:run:$run" status)" succeeded "its state is in the password-protected Redis"

# a replica with the wrong password: never ready, says why
(export ACMS_REDIS_URL="redis://:$WRONG_PW@127.0.0.1:$port"; stack_start_service validator 1)
wait_for 30 "grep -q -i -E 'auth|password' '$STACK_DIR/validator-1.log'" "wrong Redis password reported"
assert_true "! curl -fsS -m 2 -o /dev/null http://127.0.0.1:\$(cat '$STACK_DIR/validator-1.port')/readyz" \
  "replica with the wrong Redis password is not ready"
echo "  $(grep -i -m1 -E 'auth|password' "$STACK_DIR/validator-1.log" | cut -c1-200)"
stack_stop_service validator 1

if [ "$KAFKA_SASL" = 1 ]; then
  # a wrong SASL password: the broker's refusal is reported, the replica is never ready
  (export ACMS_KAFKA_BROKERS=$ACMS_KAFKA_SASL_BROKERS ACMS_KAFKA_SECURITY_PROTOCOL=sasl_plaintext \
     ACMS_KAFKA_SASL_MECHANISM=PLAIN ACMS_KAFKA_SASL_USERNAME=acms-monitor ACMS_KAFKA_SASL_PASSWORD="$WRONG_PW"
   stack_start_service monitor 1)
  wait_for 30 "grep -q -i 'authentication' '$STACK_DIR/monitor-1.log'" "a wrong SASL password: authentication failure reported"
  assert_true "! curl -fsS -m 2 -o /dev/null http://127.0.0.1:\$(cat '$STACK_DIR/monitor-1.port')/readyz" \
    "replica with the wrong SASL password is not ready"
  echo "  $(grep -i -m1 'authentication' "$STACK_DIR/monitor-1.log" | cut -c1-200)"
  stack_stop_service monitor 1

  # a principal without WRITE on acms.config.prepared: refused for good, dead-lettered, never retried
  stack_stop_service adapter 0
  as_principal x-adapter stack_start_service adapter 1
  ready() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$(cat "$STACK_DIR/$1.port")/readyz"; }
  wait_for 60 "ready adapter-1" "the adapter without WRITE on acms.config.prepared is ready"
  out=$(ctl submit "$REPO/examples/pipelines/churn-training.yaml" --env dev --format json)
  denied=$(json_get "$out" run_id)
  # one line per dead letter (a payload may hold newlines): key, then the printable bytes
  dl() { kcat -b "$ACMS_KAFKA_BROKERS" -C -t acms.deadletter -e -o beginning -q -f '%k %s<END>' 2>/dev/null |
         tr -c '[:print:]' '.' | sed 's/<END>/\n/g'; }
  wait_for 60 "dl | grep '^$denied ' | grep -q TOPIC_AUTHORIZATION_FAILED" \
    "the refused event is dead-lettered with TOPIC_AUTHORIZATION_FAILED"
  assert_true "grep -q 'refused a .*TOPIC_AUTHORIZATION_FAILED' '$STACK_DIR/adapter-1.log'" "the adapter logs the refusal as an error"
  v=$(curl -fsS -m 3 "http://127.0.0.1:$(cat "$STACK_DIR/adapter-1.port")/metrics" |
      sed -n 's/^acms_delivery_refused_total{topic="acms.config.prepared",error="TOPIC_AUTHORIZATION_FAILED"} //p')
  assert_true "[ \"\${v:-0}\" -ge 1 ]" "acms_delivery_refused_total counts it (${v:-0})"
  assert_eq "$(curl -fsS -m 3 "http://127.0.0.1:$(cat "$STACK_DIR/adapter-1.port")/healthz")" ok "that adapter stays healthy"
  stack_stop_service adapter 1
  start adapter
  wait_for 60 "ready adapter-0" "the adapter with its own principal is back"
  out=$(ctl submit "$REPO/examples/pipelines/churn-training.yaml" --env dev --wait --format json --timeout 120)
  assert_eq "$(json_get "$out" status)" succeeded "the next run succeeds: nothing wedged"
  assert_eq "$(dl | grep -c "^$denied .*TOPIC_AUTHORIZATION_FAILED")" 1 \
    "the refused event was not retried by the next adapter (its input was committed: one dead letter)"
  assert_true "[ \"\$(stack_redis_cli HGET acms:run:$denied status)\" != succeeded ]" "the refused run did not go on"
else
  # Kafka SASL: the mechanism and credentials reach librdkafka (the devbroker has no SASL listener)
  (export ACMS_KAFKA_SECURITY_PROTOCOL=sasl_plaintext ACMS_KAFKA_SASL_MECHANISM=PLAIN \
     ACMS_KAFKA_SASL_USERNAME=acms ACMS_KAFKA_SASL_PASSWORD="$SASL_PW"
   stack_start_service monitor 1)
  wait_for 30 "grep -q -i 'SASL' '$STACK_DIR/monitor-1.log'" "SASL_PLAINTEXT reaches librdkafka"
  echo "  $(grep -i -m1 'SASL' "$STACK_DIR/monitor-1.log" | cut -c1-200)"
  stack_stop_service monitor 1
fi

# TLS: a CA file that does not exist is refused at start, naming the setting
rc=0
ACMS_KAFKA_SECURITY_PROTOCOL=ssl ACMS_KAFKA_SSL_CA_LOCATION="$STACK_DIR/no-such-ca.pem" ACMS_HTTP_PORT=0 \
  timeout 30 "$BIN/acms-feedback" >"$STACK_DIR/feedback-ssl.log" 2>&1 || rc=$?
assert_true "[ $rc -ne 0 ] && [ $rc -ne 124 ]" "SSL with a missing CA file: refused at start (exit $rc)"
assert_true "grep -q 'ssl.ca.location' '$STACK_DIR/feedback-ssl.log'" "the error names ssl.ca.location"
rc=0
ACMS_KAFKA_SECURITY_PROTOCOL=carrier-pigeon ACMS_KAFKA_SASL_PASSWORD="$SASL_PW" ACMS_HTTP_PORT=0 \
  timeout 30 "$BIN/acms-feedback" >"$STACK_DIR/feedback-proto.log" 2>&1 || rc=$?
assert_true "[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'carrier-pigeon' '$STACK_DIR/feedback-proto.log'" \
  "an unknown security.protocol is refused naming it (exit $rc)"

# the passwords: nowhere (logs of every process, Redis keys, every topic)
for pw in "$REDIS_PW" "$WRONG_PW" "$SASL_PW"; do
  # (the broker's own user store is exempt: PLAIN keeps its users in kafka-N/server.properties)
  hits=$(grep -r -a -l -F -- "$pw" "$STACK_DIR" 2>/dev/null | grep -v -e '/kafka-[0-9]*/server.properties$' || true)
  assert_eq "$hits" "" "password ${pw%%-*} in no file under the stack directory (logs, AOF)"
done
for t in $(kcat -b "$ACMS_KAFKA_BROKERS" -L 2>/dev/null | sed -n 's/^  topic "\([^"]*\)".*/\1/p'); do
  n=$(kcat -b "$ACMS_KAFKA_BROKERS" -C -t "$t" -e -o beginning -q -f '%k %h %s\n' 2>/dev/null |
      grep -a -c -F -e "$REDIS_PW" -e "$SASL_PW" || true)
  assert_eq "$n" 0 "no password on $t"
done
echo "credentials: Redis AUTH and Kafka SASL/TLS settings pass through; no password is ever written"
