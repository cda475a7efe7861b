# stack.sh: a bash library that runs a local ACMS stack under one directory: redis-server and
# acms-devbroker on free loopback ports, and the service processes. Sourced by the integration
# tests and by tools/stack.sh. Everything it starts is recorded in $STACK_DIR (NAME.pid, NAME.port,
# NAME.log), and stack_stop stops exactly those processes, never anything found by name.
#
#   source tests/lib/stack.sh
#   stack_init "$(mktemp -d /tmp/acms-x-XXXXXX)"; trap stack_stop EXIT
#   stack_start_all            # or stack_start_redis; stack_start_broker 6; stack_start_service adapter 0; ...
#   stack_redis_cli GET k; stack_broker_ctl broker-down 1; stack_stop_service coordinator 0 KILL
#
# Variables: REPO (repo root, from this file's path), BIN (default $REPO/bin), STACK_DIR,
# ACMS_CONFIG_DIR (default $REPO/examples), STACK_READY_TIMEOUT (s, default 90), STACK_REDIS_DIR (Redis's
# data directory, default $STACK_DIR),
# STACK_PARTITIONS (per topic for stack_start_all, default 6), STACK_BROKERS (mock brokers of the
# devbroker, default 1; more make leader moves and single-broker outages possible), REPLICAS (default 1),
# STACK_DETACH=1 (start processes in their own session: they outlive the caller's terminal).
# Other helpers: stack_stop_redis [SIGNAL] / stack_start_redis (same port and AOF data again),
# stack_stop_broker, stack_free_port, stack_running.
# Exported once started: ACMS_REDIS_URL, ACMS_KAFKA_BROKERS, ACMS_REPO, STACK_DIR, STACK_SHARED.
# The bus (docs/bus.md): ACMS_BUS=devbroker (default), kafka (Apache Kafka from `make kafka`, started
# here: tests/lib/kafka.sh) or external (ACMS_KAFKA_BROKERS given: nothing started, topics applied).
#
# Local steps run in the coordinator's sandbox (docs/execution.md): as root, under the unprivileged
# step user (ACMS_STEP_USER, default acms-step). $STACK_DIR is traversable (0711) but the files the
# stack writes there (logs, pids, env files, Redis data) are its own (umask 077), so a step cannot
# read them; $STACK_SHARED (1777) is where steps write what tests read. A checkout the step user
# cannot execute from (e.g. under /root) makes the stack run steps as the coordinator's user, and
# says so (tests of the identity itself use system programs only and set ACMS_STEP_USER).

STACK_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=${REPO:-$(cd "$STACK_LIB_DIR/../.." && pwd)}
export ACMS_REPO=${ACMS_REPO:-$REPO}
BIN=${BIN:-$REPO/bin}
case "$BIN" in /*) ;; *) BIN=$REPO/$BIN ;; esac
export BIN
STACK_SERVICES_ALL="adapter validator coordinator monitor feedback"
# pyenv shims take a second to start; the system interpreter is enough for the helpers
if [ -z "${STACK_PY:-}" ]; then
  if [ -x /usr/bin/python3 ]; then STACK_PY=/usr/bin/python3; else STACK_PY=python3; fi
fi

stack__log() { echo "stack: $*" >&2; }
# shellcheck source=kafka.sh
source "$STACK_LIB_DIR/kafka.sh"

# A free TCP port on 127.0.0.1 (the kernel's choice; released before use, so tiny race).
stack_free_port() {
  "$STACK_PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

stack__need_dir() {
  if [ -z "${STACK_DIR:-}" ]; then stack__log "call stack_init DIR first"; return 1; fi
}

# stack__alive PID: running and not a zombie
stack__alive() {
  local pid=$1 state
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  state=$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ] && [ "$state" != X ]
}

# stack__pid NAME: the pid recorded for NAME if that process is still ours (its command line
# names the program recorded with it), else empty.
stack__pid() {
  local pid prog
  pid=$(stack__spawned "$1")
  [ -n "$pid" ] || return 0
  read -r _ prog <"$STACK_DIR/$1.pid" || true
  if [ -n "$prog" ] && ! tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q -F -- "$prog"; then
    return 0  # the pid was recycled by something else
  fi
  echo "$pid"
}

# stack__spawned NAME: the pid recorded for NAME while that process lives, whatever it runs yet.
# The start loops use it: between the wrapper's pid file and its exec, and during the exec itself
# (when /proc/PID/cmdline reads empty), stack__pid's check of the program name cannot pass.
stack__spawned() {
  local f=$STACK_DIR/$1.pid pid
  [ -f "$f" ] || return 0
  read -r pid _ <"$f" || true
  stack__alive "$pid" && echo "$pid"
  return 0
}

# stack__spawn NAME LOGFILE PROG ARGS...: starts PROG in the background (own session when
# STACK_DETACH=1) and records "PID PROG" in NAME.pid. The pid is the program's own: the wrapper
# shell writes its $$ and then execs the program.
stack__spawn() {
  local name=$1 log=$2; shift 2
  local pidf=$STACK_DIR/$name.pid prog
  prog=$(basename "$1")
  rm -f "$pidf"
  (umask 077; : >>"$log")  # the stack's files are its own: steps run as another user cannot read them
  # shellcheck disable=SC2016 # $$, $0, $1 belong to the wrapper shell
  if [ "${STACK_DETACH:-0}" = 1 ] && command -v setsid >/dev/null; then
    setsid sh -c 'umask 077; echo "$$ $0" >"$1"; shift; exec "$@"' "$prog" "$pidf" "$@" </dev/null >>"$log" 2>&1 &
  else
    sh -c 'umask 077; echo "$$ $0" >"$1"; shift; exec "$@"' "$prog" "$pidf" "$@" </dev/null >>"$log" 2>&1 &
  fi
  disown $! 2>/dev/null || true  # no "Killed" job notices when a test kills it on purpose
  local i
  for i in $(seq 1 100); do [ -s "$pidf" ] && return 0; sleep 0.02; done
  stack__log "$name: did not start"; return 1
}

# stack__kill NAME SIGNAL WAIT_S: signals NAME, waits up to WAIT_S for it to exit, then SIGKILL.
stack__kill() {
  local name=$1 sig=$2 wait_s=$3 pid i
  pid=$(stack__pid "$name")
  if [ -n "$pid" ]; then
    kill -s "$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 $((wait_s * 10))); do stack__alive "$pid" || break; sleep 0.1; done
    if stack__alive "$pid"; then
      stack__log "$name (pid $pid) still running after ${wait_s}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for i in $(seq 1 50); do stack__alive "$pid" || break; sleep 0.1; done
    fi
  fi
  rm -f "$STACK_DIR/$name.pid"
}

# stack__step_user: STACK_STEP_USER, the ACMS_STEP_USER services get: the configured one, or "" when
# steps could not execute this checkout's programs as that user.
stack__step_user() {
  STACK_STEP_USER=${ACMS_STEP_USER-acms-step}
  [ -n "$STACK_STEP_USER" ] && [ "$(id -u)" = 0 ] && id -u "$STACK_STEP_USER" >/dev/null 2>&1 || return 0
  [ -n "${ACMS_STEP_USER+x}" ] && return 0   # chosen explicitly: kept
  if ! runuser -u "$STACK_STEP_USER" -- test -x "$BIN/acms-stepload" 2>/dev/null; then
    stack__log "step user $STACK_STEP_USER cannot execute $BIN/acms-stepload: steps run as $(id -un)"
    STACK_STEP_USER=""
  fi
}

stack_init() {
  if [ -z "${1:-}" ]; then stack__log "usage: stack_init DIR"; return 1; fi
  mkdir -p "$1" || return 1
  STACK_DIR=$(cd "$1" && pwd)
  export STACK_DIR
  chmod 0711 "$STACK_DIR"
  mkdir -p "$STACK_DIR/work" "$STACK_DIR/shared"
  chmod 0711 "$STACK_DIR/work"
  chmod 1777 "$STACK_DIR/shared"
  STACK_SHARED=$STACK_DIR/shared
  export STACK_SHARED
  stack__step_user
  touch "$STACK_DIR/services"
  # a test runner that lists stack directories removes them once the test passed
  [ -n "${ACMS_STACK_DIRS:-}" ] && echo "$STACK_DIR" >>"$ACMS_STACK_DIRS"
  # a directory re-used after an earlier stack: pick up what is still running there
  if [ -f "$STACK_DIR/redis.port" ] && [ -n "$(stack__pid redis)" ]; then
    ACMS_REDIS_URL="redis://127.0.0.1:$(cat "$STACK_DIR/redis.port")"
    export ACMS_REDIS_URL
  fi
  if [ -f "$STACK_DIR/broker.env" ] && [ -n "$(stack__pid broker)" ]; then
    ACMS_KAFKA_BROKERS=$(sed -n 's/^ACMS_KAFKA_BROKERS=//p' "$STACK_DIR/broker.env")
    export ACMS_KAFKA_BROKERS
  fi
}

# --- redis ------------------------------------------------------------------------------------

stack_redis_cli() {
  stack__redis_cli_port "$(cat "$STACK_DIR/redis.port")" "$@"
}

# redis-cli on a port, with the stack's password when it has one (REDISCLI_AUTH: not on the command line)
stack__redis_cli_port() {
  local port=$1; shift
  if [ -n "${STACK_REDIS_PASSWORD:-}" ]; then
    REDISCLI_AUTH=$STACK_REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$port" "$@"
  else
    redis-cli -h 127.0.0.1 -p "$port" "$@"
  fi
}

# With STACK_REDIS_PASSWORD set, redis-server requires it: the password goes into a mode-0600
# redis.conf (never on a command line, where ps shows it) and into ACMS_REDIS_URL.
stack__redis_conf() {
  local conf=$STACK_DIR/redis.conf
  (umask 077 && : >"$conf")
  [ -n "${STACK_REDIS_PASSWORD:-}" ] && printf 'requirepass "%s"\n' "$STACK_REDIS_PASSWORD" >"$conf"
  echo "$conf"
}

# Starts redis-server with AOF (appendfsync everysec) in $STACK_REDIS_DIR (default $STACK_DIR; `make up`
# keeps it under run/data/redis so it outlives the stack). A restart after stack_stop_redis re-uses
# the same port and data, so services keep their URL.
stack_start_redis() {
  stack__need_dir || return 1
  local attempt port i dir=${STACK_REDIS_DIR:-$STACK_DIR}
  if [ -n "$(stack__pid redis)" ]; then stack__log "redis already running"; return 0; fi
  mkdir -p "$dir" || return 1
  for attempt in 1 2 3 4 5; do
    if [ -f "$STACK_DIR/redis.port" ]; then port=$(cat "$STACK_DIR/redis.port"); else port=$(stack_free_port); fi
    echo "$port" >"$STACK_DIR/redis.port"
    stack__spawn redis "$STACK_DIR/redis.out" redis-server "$(stack__redis_conf)" --bind 127.0.0.1 --port "$port" \
      --save '' --appendonly yes --appendfsync everysec --dir "$dir" \
      --logfile "$STACK_DIR/redis.log" --daemonize no || return 1
    for i in $(seq 1 100); do
      if [ "$(stack__redis_cli_port "$port" PING 2>/dev/null)" = PONG ]; then
        export ACMS_REDIS_URL="redis://${STACK_REDIS_PASSWORD:+:$STACK_REDIS_PASSWORD@}127.0.0.1:$port"
        stack__log "redis-server on 127.0.0.1:$port (AOF everysec, dir $dir)"
        return 0
      fi
      stack__alive "$(stack__spawned redis)" || break
      sleep 0.1
    done
    stack__kill redis TERM 2
    # port taken meanwhile (or a stale port file): try another one
    [ "$attempt" -lt 5 ] && rm -f "$STACK_DIR/redis.port"
  done
  stack__log "redis-server did not start; see $STACK_DIR/redis.log"
  tail -n 20 "$STACK_DIR/redis.log" >&2 2>/dev/null
  return 1
}

# stack_stop_redis [SIGNAL]: TERM (default; AOF is flushed) or KILL (crash simulation).
stack_stop_redis() {
  stack__need_dir || return 1
  stack__kill redis "${1:-TERM}" 10
}

# --- broker -----------------------------------------------------------------------------------

stack__broker_sock() {
  if [ -f "$STACK_DIR/broker.sockpath" ]; then cat "$STACK_DIR/broker.sockpath"; else echo "$STACK_DIR/broker.sock"; fi
}

# stack_bus: the bus this stack runs on (devbroker, kafka or external).
stack_bus() {
  case "${ACMS_BUS:-devbroker}" in
    devbroker|kafka|external) echo "${ACMS_BUS:-devbroker}" ;;
    *) stack__log "ACMS_BUS=${ACMS_BUS}: expected devbroker, kafka or external"; return 1 ;;
  esac
}

# stack_start_broker [PARTITIONS]: the bus of stack_bus with the ACMS topics (PARTITIONS each).
stack_start_broker() {
  local bus
  bus=$(stack_bus) || return 1
  case "$bus" in
    kafka)
      stack_kafka_start "${STACK_BROKERS:-1}" || return 1
      stack_kafka_topics "${1:-6}" "$(( ${STACK_BROKERS:-1} < 3 ? ${STACK_BROKERS:-1} : 3 ))" ;;
    external)
      [ -n "${ACMS_KAFKA_BROKERS:-}" ] || { stack__log "ACMS_BUS=external needs ACMS_KAFKA_BROKERS"; return 1; }
      stack_kafka_topics "${1:-6}" ;;
    *) stack_start_devbroker "$@" ;;
  esac
}

# stack_start_devbroker [PARTITIONS]: acms-devbroker with a control socket. Its ports are random:
# ACMS_KAFKA_BROKERS is read from the env file it writes.
stack_start_devbroker() {
  stack__need_dir || return 1
  local parts=${1:-6} sock=$STACK_DIR/broker.sock i
  if [ -n "$(stack__pid broker)" ]; then stack__log "broker already running"; return 0; fi
  if [ ! -x "$BIN/acms-devbroker" ]; then stack__log "$BIN/acms-devbroker missing: build first (make)"; return 1; fi
  if [ ${#sock} -gt 100 ]; then sock=$(mktemp -u /tmp/acms-broker-XXXXXX.sock); fi  # sun_path limit
  echo "$sock" >"$STACK_DIR/broker.sockpath"
  rm -f "$STACK_DIR/broker.env"
  stack__spawn broker "$STACK_DIR/broker.log" "$BIN/acms-devbroker" --partitions "$parts" \
    --brokers "${STACK_BROKERS:-1}" --env-file "$STACK_DIR/broker.env" --control "$sock" || return 1
  for i in $(seq 1 150); do
    if [ -s "$STACK_DIR/broker.env" ] && [ -S "$sock" ]; then
      ACMS_KAFKA_BROKERS=$(sed -n 's/^ACMS_KAFKA_BROKERS=//p' "$STACK_DIR/broker.env")
      export ACMS_KAFKA_BROKERS
      stack__log "acms-devbroker at $ACMS_KAFKA_BROKERS ($parts partitions per topic, control $sock)"
      return 0
    fi
    stack__alive "$(stack__spawned broker)" || break
    sleep 0.1
  done
  stack__log "acms-devbroker did not start; see $STACK_DIR/broker.log"
  tail -n 20 "$STACK_DIR/broker.log" >&2 2>/dev/null
  stack__kill broker TERM 2
  return 1
}

stack_stop_broker() {
  stack__need_dir || return 1
  stack__kill broker "${1:-TERM}" 10
  [ -f "$STACK_DIR/kafka.nodes" ] && stack_kafka_stop "${1:-TERM}"
  return 0
}

# stack_broker_ctl CMD ARGS...: one control command; prints the answer, non-zero on "error: ...".
stack_broker_ctl() {
  "$STACK_PY" "$REPO/tools/devbroker-ctl" "$(stack__broker_sock)" "$@"
}

# --- services ---------------------------------------------------------------------------------

# stack_start_service NAME [INDEX]: starts $BIN/acms-NAME as NAME-INDEX (INDEX default 0) with its
# own HTTP port (STACK_SERVICE_PORT when set, else a free one); logs to $STACK_DIR/NAME-INDEX.log.
stack_start_service() {
  stack__need_dir || return 1
  local name=$1 index=${2:-0} id port
  id=$name-$index
  if [ ! -x "$BIN/acms-$name" ]; then stack__log "$BIN/acms-$name missing: build first (make)"; return 1; fi
  if [ -n "$(stack__pid "$id")" ]; then stack__log "$id already running"; return 0; fi
  port=${STACK_SERVICE_PORT:-$(stack_free_port)}
  echo "$port" >"$STACK_DIR/$id.port"
  grep -q -x -F "$id" "$STACK_DIR/services" 2>/dev/null || echo "$id" >>"$STACK_DIR/services"
  ACMS_HTTP_PORT=$port ACMS_HTTP_ADDR=127.0.0.1 ACMS_INSTANCE_ID=$id ACMS_STEP_USER=${STACK_STEP_USER-} \
  ACMS_CONFIG_DIR=${ACMS_CONFIG_DIR:-$REPO/examples} ACMS_WORK_DIR=$STACK_DIR/work \
  ACMS_KAFKA_BROKERS=${ACMS_KAFKA_BROKERS:-} ACMS_REDIS_URL=${ACMS_REDIS_URL:-} \
    stack__spawn "$id" "$STACK_DIR/$id.log" "$BIN/acms-$name" || return 1
  stack__log "acms-$name ($id) pid $(stack__pid "$id"), http 127.0.0.1:$port, log $STACK_DIR/$id.log"
}

# stack_stop_service NAME [INDEX] [SIGNAL]: signal (default TERM), wait up to 15 s, then KILL.
stack_stop_service() {
  stack__need_dir || return 1
  stack__kill "$1-${2:-0}" "${3:-TERM}" 15
}

# stack_wait_ready [TIMEOUT_S]: until /readyz of every started service answers 200.
stack_wait_ready() {
  stack__need_dir || return 1
  local timeout=${1:-${STACK_READY_TIMEOUT:-90}} deadline id pending dead
  deadline=$(( $(date +%s) + timeout ))
  while :; do
    pending="" dead=""
    while read -r id; do
      [ -n "$id" ] || continue
      if [ -z "$(stack__pid "$id")" ]; then dead="$dead $id"; continue; fi
      curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$(cat "$STACK_DIR/$id.port")/readyz" 2>/dev/null ||
        pending="$pending $id"
    done <"$STACK_DIR/services"
    if [ -z "$pending" ] && [ -z "$dead" ]; then return 0; fi
    if [ -n "$dead" ] || [ "$(date +%s)" -ge "$deadline" ]; then
      [ -n "$dead" ] && stack__log "exited:$dead"
      [ -n "$pending" ] && stack__log "not ready after ${timeout}s:$pending"
      for id in $dead $pending; do
        echo "--- $STACK_DIR/$id.log (tail)" >&2
        tail -n 25 "$STACK_DIR/$id.log" >&2 2>/dev/null
      done
      return 1
    fi
    sleep 0.25
  done
}

# stack_start_all [REPLICAS]: redis, broker, every service (REPLICAS each, default 1), ready.
stack_start_all() {
  local replicas=${1:-${REPLICAS:-1}} s i
  stack_start_redis || return 1
  stack_start_broker "${STACK_PARTITIONS:-6}" || return 1
  for s in $STACK_SERVICES_ALL; do
    for i in $(seq 0 $((replicas - 1))); do stack_start_service "$s" "$i" || return 1; done
  done
  stack_wait_ready "${STACK_READY_TIMEOUT:-90}"
}

# stack_stop: TERM every service (at once), wait up to 15 s, KILL what remains; then the broker
# and redis. Only processes recorded in $STACK_DIR. Idempotent; returns 0, except when a log holds a
# sanitizer report (stack_sanitizer_check): then it exits 1 (it is usually the EXIT trap, whose
# return status bash ignores), or returns 1 when STACK_SAN_FATAL=0.
stack_stop() {
  [ -n "${STACK_DIR:-}" ] && [ -d "$STACK_DIR" ] || return 0
  local id pid pids="" i
  if [ -f "$STACK_DIR/services" ]; then
    while read -r id; do
      [ -n "$id" ] || continue
      pid=$(stack__pid "$id")
      if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; pids="$pids $id"; fi
    done <"$STACK_DIR/services"
    for i in $(seq 1 150); do
      local alive=""
      for id in $pids; do [ -n "$(stack__pid "$id")" ] && alive="$alive $id"; done
      [ -z "$alive" ] && break
      sleep 0.1
    done
    for id in $pids; do stack__kill "$id" KILL 5; done
  fi
  stack_stop_broker TERM
  stack__kill redis TERM 10
  # a sanitizer build (make test-asan) reports in the logs: such a finding fails the caller
  if ! stack_sanitizer_check; then
    [ "${STACK_SAN_FATAL:-1}" = 1 ] && exit 1
    return 1
  fi
  return 0
}

# stack_sanitizer_check: 1 (and the reports on stderr) when a log of $STACK_DIR holds an
# AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer report, else 0.
stack_sanitizer_check() {
  [ -n "${STACK_DIR:-}" ] && [ -d "$STACK_DIR" ] || return 0
  local f found=0 re='ERROR: (AddressSanitizer|LeakSanitizer)|[.][ch]:[0-9]+:[0-9]+: runtime error:'
  for f in "$STACK_DIR"/*.log; do
    [ -f "$f" ] || continue
    if grep -a -q -E "$re" "$f"; then
      stack__log "sanitizer finding in $f:"
      grep -a -E -A 30 "$re" "$f" | head -n 60 >&2
      found=1
    fi
  done
  return "$found"
}

# stack_write_env FILE: the two addresses for clients (acmsctl, services started by hand).
stack_write_env() {
  local f=$1 tmp
  tmp=$f.tmp.$$
  {
    echo "ACMS_KAFKA_BROKERS=${ACMS_KAFKA_BROKERS:-}"
    echo "ACMS_REDIS_URL=${ACMS_REDIS_URL:-}"
  } >"$tmp" && chmod 600 "$tmp" && mv -f "$tmp" "$f"
}

# stack_running: 0 when any process recorded in $STACK_DIR still runs.
stack_running() {
  [ -n "${STACK_DIR:-}" ] && [ -d "$STACK_DIR" ] || return 1
  local f
  for f in "$STACK_DIR"/*.pid; do
    [ -e "$f" ] || continue
    [ -n "$(stack__pid "$(basename "$f" .pid)")" ] && return 0
  done
  return 1
}
