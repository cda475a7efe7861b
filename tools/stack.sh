#!/usr/bin/env bash
# tools/stack.sh: the local stack behind `make up` / `make down` (docs/local-stack.md): redis-server,
# the bus, the five services (REPLICAS each) and the web console (docs/console.md) as processes under
# run/, recorded by pid files. The bus is acms-devbroker, or with ACMS_BUS=kafka an Apache Kafka broker
# (`make kafka`; docs/bus.md).
#   tools/stack.sh up       start everything (secrets from run/secrets.env); returns once every service is
#                           ready; writes run/stack.env; on a running stack, checks its settings instead
#   tools/stack.sh down     stop exactly what `up` started (idempotent); WIPE=1 also wipes the data
#   tools/stack.sh wipe     delete the stack's data (Redis AOF, step work dirs, logs); refused while it runs
#   tools/stack.sh status   list what runs; exit 0 when the stack runs, 1 when not
# Kept between `down` and `up`: Redis (AOF under run/data/redis: runs, stored configurations, learned
# statistics), step work dirs and logs (run/work), service logs. The devbroker keeps topics in memory
# only: runs that had not started executing when the stack stopped are marked failed ("interrupted")
# at the next `up`; runs that were executing are resumed by the coordinator from Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
source "$REPO/tests/lib/stack.sh"
RUN_DIR=${ACMS_RUN_DIR:-$REPO/run}
DATA_DIR=${ACMS_DATA_DIR:-$RUN_DIR/data}
SECRETS_FILE=${ACMS_SECRETS_FILE:-$RUN_DIR/secrets.env}
SETTINGS_FILE=$RUN_DIR/stack.settings

usage() { sed -n '2,11s/^# \{0,1\}//p' "$0"; }

status() {
  local f name pid any=1 port
  [ -d "$RUN_DIR" ] || { echo "stack not running"; return 1; }
  STACK_DIR=$RUN_DIR
  for f in "$RUN_DIR"/*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    pid=$(stack__pid "$name")
    if [ -n "$pid" ]; then
      any=0
      port=""
      [ -f "$RUN_DIR/$name.port" ] && port=" port $(cat "$RUN_DIR/$name.port")"
      printf '  %-16s pid %-8s%s\n' "$name" "$pid" "$port"
    fi
  done
  if [ "$any" -ne 0 ]; then echo "stack not running"; return 1; fi
  [ -f "$RUN_DIR/stack.env" ] && sed -e 's#://:[^@]*@#://:***@#' -e 's/^/  /' "$RUN_DIR/stack.env"
  return 0
}

# --- secrets: run/secrets.env ----------------------------------------------------------------
# KEY=VALUE lines (# comments, blank lines), read literally (never run by a shell), exported to the
# services, which resolve secret://env/KEY for the steps. The file must be the user's own and readable
# by nobody else (mode 0600 or 0400). Names are printed, values never.

secrets_check() {
  local f=$SECRETS_FILE mode owner
  [ -e "$f" ] || return 0
  if [ ! -f "$f" ]; then echo "stack: $f is not a regular file" >&2; return 1; fi
  mode=$(stat -c '%a' "$f") owner=$(stat -c '%u' "$f")
  if [ "$owner" != "$(id -u)" ]; then
    echo "stack: $f belongs to uid $owner, not to you: refusing to read secrets from it" >&2; return 1
  fi
  if [ $((8#$mode & 8#077)) -ne 0 ]; then
    echo "stack: $f is readable by others (mode $mode): chmod 600 $f, then make up again" >&2; return 1
  fi
}

# Exports the secrets and prints what was loaded (names only).
secrets_load() {
  local f=$SECRETS_FILE line key names="" n=0 lineno=0
  if [ ! -e "$f" ]; then
    echo "  secrets:   none ($f does not exist: secret://env/ references resolve only from the environment"
    echo "             make up was started with; see docs/local-stack.md)"
    return 0
  fi
  secrets_check || return 1
  while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    line=${line%$'\r'}
    case "$line" in ''|'#'*) continue ;; esac
    line=${line#export }
    key=${line%%=*}
    if [ "$key" = "$line" ] || ! [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
      echo "stack: $f:$lineno: expected NAME=VALUE (the value is taken literally, without quotes)" >&2
      return 1
    fi
    export "$key=${line#*=}"
    names="$names $key" n=$((n + 1))
  done <"$f"
  echo "  secrets:   $n from $f:$names"
}

# --- settings: what the running stack was started with -------------------------------------------
# One KEY=VALUE line per setting; secrets and ACMS_* values only as hashes (the file is mode 0600 anyway).

settings_current() {
  local acms
  acms=$(env | grep -E '^ACMS_' | grep -vE '^ACMS_(KAFKA_BROKERS|REDIS_URL|STACK_ENV|RUN_DIR|STACK_DIRS|REPO)=' | sort || true)
  echo "REPLICAS=${REPLICAS:-1}"
  echo "BIN=$BIN"
  echo "DATA=$DATA_DIR"
  if [ -f "$SECRETS_FILE" ]; then
    echo "SECRETS=$(sha256sum <"$SECRETS_FILE" | cut -c1-16)"
  else
    echo "SECRETS=none"
  fi
  echo "ACMS_VARS=$(printf '%s\n' "$acms" | sed -n 's/=.*//p' | tr '\n' ' ' | sed 's/ $//')"
  echo "ACMS_VALUES=$(printf '%s' "$acms" | sha256sum | cut -c1-16)"
}

settings_describe() {
  case "$1" in
    REPLICAS) echo "REPLICAS (replicas of each service)" ;;
    BIN) echo "BIN (the binaries)" ;;
    DATA) echo "ACMS_DATA_DIR (the data folder)" ;;
    SECRETS) echo "$SECRETS_FILE (its content changed, or it was created or removed)" ;;
    ACMS_VARS) echo "the ACMS_* variables set" ;;
    ACMS_VALUES) echo "the values of ACMS_* variables" ;;
    *) echo "$1" ;;
  esac
}

# 0 when the running stack was started with the settings of this call, else the differences on stderr.
settings_same() {
  local want have key diff=0
  want=$(settings_current)
  if [ ! -f "$SETTINGS_FILE" ]; then
    echo "stack: the running stack recorded no settings ($SETTINGS_FILE): they cannot be compared" >&2
    return 1
  fi
  while IFS= read -r line; do
    key=${line%%=*}
    have=$(grep -m1 "^$key=" "$SETTINGS_FILE" || true)
    if [ "$have" != "$line" ]; then
      diff=1
      if [ "$key" = SECRETS ] || [ "$key" = ACMS_VALUES ]; then
        echo "  differs: $(settings_describe "$key")" >&2
      else
        echo "  differs: $(settings_describe "$key"): running ${have#*=}, asked ${line#*=}" >&2
      fi
    fi
  done <<<"$want"
  return "$diff"
}

settings_record() {
  (umask 077 && settings_current >"$SETTINGS_FILE")
}

# --- runs a new devbroker cannot continue ------------------------------------------------------------
# The devbroker starts with empty topics: the events of runs that had not started executing are gone.
# Such runs (status submitted, prepared, validated, queued, submitted before start_ms) become failed
# with interrupted=1 and a reason saying so. Runs that were executing (running) stay: the coordinator
# resumes them from Redis (acms:runs:active) once their lease expires. Prints how many were marked.
stack_mark_interrupted() {
  local start_ms=$1 now_ms n
  [ "${ACMS_BUS:-devbroker}" = devbroker ] || return 0 # Apache Kafka keeps its topics: the runs go on
  now_ms=$(date +%s%3N)
  # shellcheck disable=SC2016 # Lua, not shell
  n=$(stack_redis_cli EVAL '
local n = 0
for _, id in ipairs(redis.call("ZRANGEBYSCORE", "acms:runs", "-inf", ARGV[1])) do
  local k = "acms:run:" .. id
  local st = redis.call("HGET", k, "status")
  if st == "submitted" or st == "prepared" or st == "validated" or st == "queued" then
    redis.call("HSET", k, "status", "failed", "interrupted", "1", "success", "0", "reason", ARGV[3],
               "updated_ms", ARGV[2], "finished_ms", ARGV[2])
    n = n + 1
  end
end
return n' 0 "$start_ms" "$now_ms" \
    "interrupted: the stack stopped before this run started executing, and its events were on the devbroker, which keeps topics in memory only; submit it again") || return 1
  n=${n#(integer) }
  [ "$n" != 0 ] && echo "  restarted: $n run(s) that had not started executing marked failed (interrupted); runs that were executing resume"
  return 0
}

# The bus's own data (Apache Kafka's log directories, under run/kafka-N) goes with the stack's data:
# both describe the same runs, so `make clean-data` wipes them together.
bus_wipe() {
  rm -rf "$RUN_DIR"/kafka-* "$RUN_DIR"/kafka.*
}

bus_hint() {
  if [ "$(stack_bus)" = kafka ]; then
    echo "  bus:       Apache Kafka, data and server.log in $RUN_DIR/kafka-1/ (topics: deploy/topics.yaml)"
  else
    echo "  faults:    tools/devbroker-ctl $(stack__broker_sock) broker-down 1"
  fi
}

# The local Redis gets a password: random at the first `make up`, kept in run/redis.password (0600)
# for the next ones; every file the stack writes under run/ is readable by its owner only. run/
# itself is 0711: local steps, run as the step user, reach their work directories in run/work and
# can neither list run/ nor read anything in it.
redis_password() {
  umask 077
  mkdir -p "$RUN_DIR"
  chmod 711 "$RUN_DIR"
  local f=$RUN_DIR/redis.password
  [ -s "$f" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f"
  STACK_REDIS_PASSWORD=$(cat "$f")
  export STACK_REDIS_PASSWORD
}

# The web console (docs/console.md) on ACMS_CONSOLE_PORT (default 8090) when that port is free, else
# on a free one; its URL goes to run/console.url.
console_up() {
  local port=${ACMS_CONSOLE_PORT:-8090}
  if ! "$STACK_PY" -c 'import socket,sys
s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("127.0.0.1",int(sys.argv[1])))' \
      "$port" 2>/dev/null; then
    port=$(stack_free_port)
  fi
  STACK_SERVICE_PORT=$port stack_start_service console 0 && stack_wait_ready 30 &&
    echo "http://127.0.0.1:$port/" >"$RUN_DIR/console.url"
}

# --- up / down ---------------------------------------------------------------------------------------

already_up() {
  if [ -s "$RUN_DIR/services" ] && stack_wait_ready 2 2>/dev/null; then
    if settings_same; then
      echo "stack already running with the same settings: nothing changed"
      echo "  (only REPLICAS, BIN, ACMS_* variables and $SECRETS_FILE are compared; other variables in this"
      echo "  command's environment do not reach running services: make down && make up to restart)"
      status || true
      [ -f "$RUN_DIR/console.url" ] && echo "  console:   $(cat "$RUN_DIR/console.url")"
      return 0
    fi
    echo "stack already running with other settings (above): nothing was changed; to apply them:" >&2
    echo "  make down, then this make up again" >&2
    return 1
  fi
  echo "stack partly running (a process died?): run 'make down' first" >&2
  status >&2 || true
  return 1
}

up() {
  redis_password
  STACK_DIR=$RUN_DIR
  if stack_running; then
    already_up
    return
  fi
  local start_ms
  start_ms=$(date +%s%3N)
  mkdir -p "$RUN_DIR" "$DATA_DIR/redis"
  secrets_load || return 1
  # what belongs to the stopped processes goes; data, step work dirs and logs stay
  rm -f "$RUN_DIR"/services "$RUN_DIR"/*.pid "$RUN_DIR"/*.port "$RUN_DIR"/stack.env "$RUN_DIR"/broker.env \
        "$RUN_DIR"/broker.sockpath "$RUN_DIR"/broker.sock "$SETTINGS_FILE" "$RUN_DIR"/console.url
  export STACK_DETACH=1 STACK_REDIS_DIR=$DATA_DIR/redis
  stack_init "$RUN_DIR"
  if ! stack_start_all "${REPLICAS:-1}" || ! console_up || ! stack_mark_interrupted "$start_ms"; then
    echo "stack: start-up failed; stopping what was started" >&2
    stack_stop
    return 1
  fi
  settings_record
  stack_write_env "$RUN_DIR/stack.env"
  echo "stack up: $(wc -l <"$RUN_DIR/services") service process(es), REPLICAS=${REPLICAS:-1}"
  echo "  addresses: $RUN_DIR/stack.env (acmsctl and services read it by default)"
  sed -e 's#://:[^@]*@#://:***@#' -e 's/^/    /' "$RUN_DIR/stack.env"
  echo "  redis:     password in $RUN_DIR/redis.password (mode 0600)"
  echo "  console:   $(cat "$RUN_DIR/console.url")"
  echo "  data:      $DATA_DIR (kept by make down; make clean-data wipes it)"
  echo "  logs:      $RUN_DIR/<service>-<n>.log, broker.log, redis.log; steps: $RUN_DIR/work"
  bus_hint
  echo "  stop:      make down"
}

# Deletes what the stack keeps between runs. Refused while it runs.
wipe() {
  STACK_DIR=$RUN_DIR
  if stack_running; then
    echo "stack running: make down first (or make down WIPE=1)" >&2
    return 1
  fi
  rm -rf "$DATA_DIR" "$RUN_DIR/work" "$RUN_DIR/appendonlydir"
  bus_wipe
  rm -f "$RUN_DIR"/*.log "$RUN_DIR"/*.out "$SETTINGS_FILE"
  echo "stack data wiped: $DATA_DIR, $RUN_DIR/work, logs (kept: $SECRETS_FILE)"
}

down() {
  STACK_DIR=$RUN_DIR
  if ! stack_running; then
    echo "stack not running"
  else
    stack_stop
    echo "stack down (data kept in $DATA_DIR; make clean-data wipes it)"
  fi
  rm -f "$RUN_DIR/stack.env" "$SETTINGS_FILE" "$RUN_DIR/console.url"
  if [ "${WIPE:-0}" = 1 ]; then wipe; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  wipe) wipe ;;
  status) status ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
