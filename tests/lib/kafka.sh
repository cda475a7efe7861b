# shellcheck shell=bash
# kafka.sh: Apache Kafka (KRaft) under a stack directory, sourced by tests/lib/stack.sh. The broker
# jars come from `make kafka` (tools/kafka/fetch.sh, a git-ignored cache); each node is one JVM,
# broker and controller at once, on free loopback ports, with its data, config and logs in
# $STACK_DIR/kafka-N/ and its stderr in $STACK_DIR/kafka-N.log. Topics are never auto-created
# (auto.create.topics.enable=false): stack_kafka_topics applies the repo's topic spec.
#
#   stack_kafka_start [NODES]      1 (default) or 3 nodes (a 3-voter KRaft quorum); exports
#                                  ACMS_KAFKA_BROKERS and writes $STACK_DIR/broker.env
#   stack_kafka_stop [SIGNAL]      every node (TERM: controlled shutdown)
#   stack_kafka_node_stop N [SIG]  one node; stack_kafka_node_start N starts it again (same ports, data)
#   stack_kafka_node_signal N SIG  e.g. STOP / CONT (a frozen JVM)
#   stack_kafka_topics [PARTITIONS [REPLICATION]]   acmsctl topics apply (deploy/topics.yaml)
#   stack_bus_pause / stack_bus_resume   the bus stops answering / answers again (either bus)
#   stack_kafka_acls PREFIX [--deny-write SERVICE:TOPIC]   ACLs per service principal (SASL tests)
#
# Variables: STACK_KAFKA_HEAP (default 384m), STACK_KAFKA_JVM_OPTS (default -XX:TieredStopAtLevel=1:
# the client compiler only, a faster start; the benchmarks set it empty), STACK_KAFKA_SASL=1 adds a
# SASL_PLAINTEXT listener with ACLs enforced (StandardAuthorizer) and the users of
# STACK_KAFKA_USERS="name:password ..." for both PLAIN (the broker's JAAS configuration in
# kafka-N/server.properties) and SCRAM-SHA-256 (created at format time). librdkafka before 2.6.1
# cannot complete SCRAM with Kafka 4.x (a nonce bug, librdkafka#4895): Debian 12's 2.0.2 uses PLAIN. The PLAINTEXT listener's ANONYMOUS principal is a super user: tests
# and tools reach the broker there; services given SASL credentials are held to their ACLs.
# Exported when SASL is on: ACMS_KAFKA_SASL_BROKERS (the SASL listener's bootstrap list).

# stack_kafka_lib: the broker's class path directory (fetches nothing when the cache matches).
stack_kafka_lib() {
  "$REPO/tools/kafka/fetch.sh"
}

stack__kafka_node_dir() { echo "$STACK_DIR/kafka-$1"; }

# A KRaft cluster id: 16 random bytes, base64url without padding.
stack__kafka_cluster_id() {
  "$STACK_PY" -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="))'
}

# stack__kafka_write_config N NODES: server.properties of node N (ports already chosen).
stack__kafka_write_config() {
  local n=$1 nodes=$2 dir voters="" i listeners advertised protomap
  dir=$(stack__kafka_node_dir "$n")
  for i in $(seq 1 "$nodes"); do
    voters="$voters${voters:+,}$i@127.0.0.1:$(cat "$(stack__kafka_node_dir "$i")/controller.port")"
  done
  listeners="PLAINTEXT://127.0.0.1:$(cat "$dir/port"),CONTROLLER://127.0.0.1:$(cat "$dir/controller.port")"
  advertised="PLAINTEXT://127.0.0.1:$(cat "$dir/port")"
  protomap="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [ "${STACK_KAFKA_SASL:-0}" = 1 ]; then
    listeners="$listeners,SASL_PLAINTEXT://127.0.0.1:$(cat "$dir/sasl.port")"
    advertised="$advertised,SASL_PLAINTEXT://127.0.0.1:$(cat "$dir/sasl.port")"
    protomap="$protomap,SASL_PLAINTEXT:SASL_PLAINTEXT"
  fi
  local rf=$(( nodes < 3 ? nodes : 3 )) isr=$(( nodes < 3 ? 1 : 2 ))
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protomap
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
group.consumer.min.session.timeout.ms=1000
group.classic.min.session.timeout.ms=1000
log.flush.interval.messages=9223372036854775807
EOF
  if [ "${STACK_KAFKA_SASL:-0}" = 1 ]; then
    local u plain=""
    for u in ${STACK_KAFKA_USERS:-}; do plain="$plain user_${u%%:*}=\"${u#*:}\""; done
    cat >>"$dir/server.properties" <<EOF
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain;
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
allow.everyone.if.no.acl.found=false
EOF
  fi
}

# stack__kafka_format N CLUSTER_ID: formats node N's storage (SCRAM users of STACK_KAFKA_USERS).
stack__kafka_format() {
  local n=$1 cid=$2 dir lib u args=()
  dir=$(stack__kafka_node_dir "$n")
  lib=$(stack_kafka_lib) || return 1
  for u in ${STACK_KAFKA_USERS:-}; do
    args+=(--add-scram "SCRAM-SHA-256=[name=${u%%:*},password=${u#*:}]")
  done
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$lib/*" kafka.tools.StorageTool format \
    --cluster-id="$cid" -c "$dir/server.properties" "${args[@]}" >"$dir/format.log" 2>&1 || {
    stack__log "kafka-$n: storage format failed:"; tail -n 20 "$dir/format.log" >&2; return 1; }
}

# stack_kafka_node_start N: starts node N (formatted already) in the background.
stack_kafka_node_start() {
  stack__need_dir || return 1
  local n=$1 dir lib
  dir=$(stack__kafka_node_dir "$n")
  if [ -n "$(stack__pid "kafka-$n")" ]; then stack__log "kafka-$n already running"; return 0; fi
  lib=$(stack_kafka_lib) || return 1
  # shellcheck disable=SC2086 # STACK_KAFKA_JVM_OPTS is a list of options
  stack__spawn "kafka-$n" "$STACK_DIR/kafka-$n.log" java -Xmx"${STACK_KAFKA_HEAP:-384m}" \
    -Xms64m -XX:+UseSerialGC -Xss512k ${STACK_KAFKA_JVM_OPTS--XX:TieredStopAtLevel=1} \
    -Djava.awt.headless=true -Dkafka.logs.dir="$dir" \
    -Dlog4j2.configurationFile="$REPO/tools/kafka/log4j2.properties" \
    -cp "$lib/*" kafka.Kafka "$dir/server.properties"
}

# stack__kafka_wait NODES TIMEOUT_S [BOOTSTRAP]: until metadata lists NODES brokers.
stack__kafka_wait() {
  local nodes=$1 timeout=$2 bs=${3:-$ACMS_KAFKA_BROKERS} deadline n
  deadline=$(( $(date +%s) + timeout ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    n=$(kcat -b "$bs" -L -m 2 2>/dev/null | sed -n 's/^ \([0-9]*\) brokers:$/\1/p')
    [ "${n:-0}" -ge "$nodes" ] && return 0
    for n in $(seq 1 "$nodes"); do
      if [ -z "$(stack__pid "kafka-$n")" ] && [ -f "$STACK_DIR/kafka-$n.pid.want" ]; then
        stack__log "kafka-$n exited; see $STACK_DIR/kafka-$n.log and $(stack__kafka_node_dir "$n")/server.log"
        tail -n 20 "$STACK_DIR/kafka-$n.log" >&2 2>/dev/null
        return 1
      fi
    done
    sleep 0.2
  done
  stack__log "kafka: $nodes broker(s) not up after ${timeout}s at $bs"
  return 1
}

# stack_kafka_start [NODES]: formats and starts NODES nodes, waits for all of them.
stack_kafka_start() {
  stack__need_dir || return 1
  local nodes=${1:-1} i dir cid t0 bs="" sasl=""
  command -v kcat >/dev/null || { stack__log "kcat missing (make deps)"; return 1; }
  stack_kafka_lib >/dev/null || return 1
  t0=$(date +%s%N)
  for i in $(seq 1 "$nodes"); do
    dir=$(stack__kafka_node_dir "$i")
    mkdir -p "$dir"
    [ -f "$dir/port" ] || stack_free_port >"$dir/port"
    [ -f "$dir/controller.port" ] || stack_free_port >"$dir/controller.port"
    [ "${STACK_KAFKA_SASL:-0}" = 1 ] && { [ -f "$dir/sasl.port" ] || stack_free_port >"$dir/sasl.port"; }
    bs="$bs${bs:+,}127.0.0.1:$(cat "$dir/port")"
    [ "${STACK_KAFKA_SASL:-0}" = 1 ] && sasl="$sasl${sasl:+,}127.0.0.1:$(cat "$dir/sasl.port")"
  done
  echo "$nodes" >"$STACK_DIR/kafka.nodes"
  cid=$(stack__kafka_cluster_id)
  local formats=()
  for i in $(seq 1 "$nodes"); do
    dir=$(stack__kafka_node_dir "$i")
    if [ ! -f "$dir/data/meta.properties" ]; then
      stack__kafka_write_config "$i" "$nodes"
      stack__kafka_format "$i" "$cid" &
      formats+=($!)
    fi
  done
  # only the formats: a bare `wait` would also wait for the caller's own background jobs
  for i in "${formats[@]}"; do wait "$i" || true; done
  for i in $(seq 1 "$nodes"); do
    [ -f "$(stack__kafka_node_dir "$i")/data/meta.properties" ] || { stack__log "kafka-$i: not formatted"; return 1; }
    touch "$STACK_DIR/kafka-$i.pid.want"
    stack_kafka_node_start "$i" || return 1
  done
  export ACMS_KAFKA_BROKERS=$bs
  stack__kafka_wait "$nodes" "${STACK_KAFKA_TIMEOUT:-120}" || return 1
  echo "ACMS_KAFKA_BROKERS=$bs" >"$STACK_DIR/broker.env"
  if [ -n "$sasl" ]; then
    export ACMS_KAFKA_SASL_BROKERS=$sasl
    echo "ACMS_KAFKA_SASL_BROKERS=$sasl" >>"$STACK_DIR/broker.env"
  fi
  echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$STACK_DIR/kafka.start_ms"
  stack__log "Apache Kafka ($nodes node(s)) at $bs in $(cat "$STACK_DIR/kafka.start_ms") ms${sasl:+, SASL/SCRAM at $sasl}"
}

stack_kafka_node_stop() {
  stack__need_dir || return 1
  stack__kill "kafka-$1" "${2:-TERM}" 30
}

stack_kafka_node_signal() {
  local pid
  pid=$(stack__pid "kafka-$1")
  [ -n "$pid" ] || { stack__log "kafka-$1 not running"; return 1; }
  kill -s "$2" "$pid"
}

stack_kafka_stop() {
  stack__need_dir || return 1
  local nodes i
  nodes=$(cat "$STACK_DIR/kafka.nodes" 2>/dev/null || echo 0)
  for i in $(seq 1 "$nodes"); do
    stack_kafka_node_signal "$i" CONT 2>/dev/null || true  # a frozen JVM cannot shut down
    stack_kafka_node_stop "$i" "${1:-TERM}"
    rm -f "$STACK_DIR/kafka-$i.pid.want"
  done
}

# stack_kafka_topics [PARTITIONS [REPLICATION]]: applies deploy/topics.yaml (or $ACMS_TOPICS_SPEC)
# with acmsctl, the partition count and replication overridden when given.
stack_kafka_topics() {
  local args=()
  [ -n "${1:-}" ] && args+=(--partitions "$1")
  [ -n "${2:-}" ] && args+=(--replication "$2")
  "$BIN/acmsctl" topics apply "${ACMS_TOPICS_SPEC:-$REPO/deploy/topics.yaml}" "${args[@]}" >&2
}

# stack_bus_pause / stack_bus_resume: the whole bus stops answering and comes back, whichever it
# is: every Kafka JVM frozen (SIGSTOP) and thawed (SIGCONT), or the devbroker's brokers down/up.
stack_bus_pause() {
  local i
  if [ -f "$STACK_DIR/kafka.nodes" ]; then
    for i in $(seq 1 "$(cat "$STACK_DIR/kafka.nodes")"); do stack_kafka_node_signal "$i" STOP || return 1; done
  else
    stack_broker_ctl broker-down -1 >/dev/null
  fi
}

stack_bus_resume() {
  local i
  if [ -f "$STACK_DIR/kafka.nodes" ]; then
    for i in $(seq 1 "$(cat "$STACK_DIR/kafka.nodes")"); do stack_kafka_node_signal "$i" CONT || return 1; done
  else
    stack_broker_ctl broker-up -1 >/dev/null
  fi
}

# stack_kafka_acls PREFIX [--deny-write SERVICE:TOPIC]...: the ACLs of each service principal
# User:PREFIX<service> (tests/lib/KafkaAcls.java, run from source with the broker's jars; a JDK).
stack_kafka_acls() {
  local lib
  lib=$(stack_kafka_lib) || return 1
  java -Xmx128m -XX:TieredStopAtLevel=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -Dlog4j2.configurationFile="$REPO/tools/kafka/log4j2.properties" -Dkafka.logs.dir="$STACK_DIR" \
    -cp "$lib/*" "$REPO/tests/lib/KafkaAcls.java" "$ACMS_KAFKA_BROKERS" "$@"
}
