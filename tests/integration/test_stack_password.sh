#!/usr/bin/env bash
# `make up` (tools/stack.sh) protects its Redis: a random password (run/redis.password, 0600) that
# redis-server requires, given to the services and acmsctl through run/stack.env (0600), never on a
# command line or printed; every file the stack writes under its directory is readable by its owner
# only (AOF, logs, pid and port files; the directory itself only traversable, for the steps' work dirs); a client without the password is refused; a run succeeds.
# shellcheck disable=SC2034 # variables read inside assert_true's eval
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
REPO=$(cd "$here/../.." && pwd)
run=$(mktemp -d /tmp/acms-stackpw-XXXXXX)
cleanup() { ACMS_RUN_DIR=$run "$REPO/tools/stack.sh" down >/dev/null 2>&1 || true; rm -rf "$run"; }
trap cleanup EXIT

export CHURN_DB_PASSWORD=stackpw-$RANDOM   # the example pipeline reads it
ACMS_RUN_DIR=$run "$REPO/tools/stack.sh" up >"$run.up.out" 2>&1 || { cat "$run.up.out"; exit 1; }
pw=$(cat "$run/redis.password")
assert_true "[ \${#pw} -ge 32 ]" "a random password of ${#pw} characters"
assert_eq "$(stat -c %a "$run/redis.password")" 600 "redis.password is 0600"
assert_eq "$(stat -c %a "$run/stack.env")" 600 "stack.env is 0600"
assert_eq "$(stat -c %a "$run")" 711 "the run directory is 0711 (steps, as the step user, reach run/work; they list nothing)"
assert_true "! grep -q -F -- '$pw' '$run.up.out'" "make up does not print the password"
port=$(cat "$run/redis.port")
assert_true "redis-cli -h 127.0.0.1 -p $port PING 2>&1 | grep -q NOAUTH" "a client without the password is refused"
assert_eq "$(REDISCLI_AUTH=$pw redis-cli -h 127.0.0.1 -p "$port" PING)" PONG "the password opens it"
pid=$(awk '{print $1}' "$run/redis.pid")
assert_true "! tr '\\0' ' ' </proc/$pid/cmdline | grep -q -F -- '$pw'" "the password is not on redis-server's command line"
out=$(cd "$run" && ACMS_STACK_ENV=$run/stack.env \
  "$REPO/bin/acmsctl" submit "$REPO/examples/pipelines/churn-training.yaml" --env dev --wait --format json --timeout 120 \
  2>&1) || true
assert_eq "$(json_get "$out" status)" succeeded "a run succeeds through the password-protected Redis"
loose=$(find "$run" -type f -perm /077 2>/dev/null || true)
assert_eq "$loose" "" "every file under the stack directory is owner-only"
echo "stack-password: Redis requires a random password; run/ files are 0600"
