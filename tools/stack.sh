#!/usr/bin/env bash
# tools/stack.sh: the local stack behind `make up` / `make down`: redis-server, acms-devbroker and
# the five services (REPLICAS each) as processes under run/, recorded by pid files there.
#   tools/stack.sh up       start everything; returns once every service is ready; writes run/stack.env
#   tools/stack.sh down     stop exactly what `up` started (idempotent)
#   tools/stack.sh status   list what runs; exit 0 when the stack runs, 1 when not
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
source "$REPO/tests/lib/stack.sh"
RUN_DIR=${ACMS_RUN_DIR:-$REPO/run}

usage() { sed -n '2,6s/^# \{0,1\}//p' "$0"; }

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

up() {
  redis_password
  STACK_DIR=$RUN_DIR
  if stack_running; then
    if [ -s "$RUN_DIR/services" ] && stack_wait_ready 2 2>/dev/null; then
      echo "stack already running:"
      status || true
      return 0
    fi
    echo "stack partly running (a process died?): run 'make down' first" >&2
    status >&2 || true
    return 1
  fi
  # start fresh: the devbroker keeps topics in memory, so Redis state of an earlier stack
  # (its AOF) would describe runs that no longer exist on the bus
  if [ -d "$RUN_DIR" ]; then
    rm -f "$RUN_DIR"/services "$RUN_DIR"/*.pid "$RUN_DIR"/*.port "$RUN_DIR"/*.env "$RUN_DIR"/*.log \
          "$RUN_DIR"/*.out "$RUN_DIR"/broker.sockpath "$RUN_DIR"/broker.sock
    rm -rf "$RUN_DIR/appendonlydir"
  fi
  export STACK_DETACH=1
  stack_init "$RUN_DIR"
  if ! stack_start_all "${REPLICAS:-1}"; then
    echo "stack: start-up failed; stopping what was started" >&2
    stack_stop
    return 1
  fi
  stack_write_env "$RUN_DIR/stack.env"
  echo "stack up: $(wc -l <"$RUN_DIR/services") service process(es), REPLICAS=${REPLICAS:-1}"
  echo "  addresses: $RUN_DIR/stack.env (acmsctl and services read it by default)"
  sed -e 's#://:[^@]*@#://:***@#' -e 's/^/    /' "$RUN_DIR/stack.env"
  echo "  redis:     password in $RUN_DIR/redis.password (mode 0600)"
  echo "  logs:      $RUN_DIR/<service>-<n>.log, broker.log, redis.log"
  echo "  faults:    tools/devbroker-ctl $(stack__broker_sock) broker-down 1"
  echo "  stop:      make down"
}

down() {
  STACK_DIR=$RUN_DIR
  if ! stack_running; then
    echo "stack not running"
    rm -f "$RUN_DIR/stack.env"
    return 0
  fi
  stack_stop
  rm -f "$RUN_DIR/stack.env"
  echo "stack down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
