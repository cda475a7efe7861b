#!/usr/bin/env bash
# The local stack's lifecycle (tools/stack.sh, behind make up / make down / make clean-data;
# docs/local-stack.md), in a directory of its own:
# - secrets come from secrets.env, refused when others may read it, names printed and values never;
# - `up` on a running stack with the same settings says so (exit 0), with other settings (REPLICAS,
#   a changed secrets file) names the difference and changes nothing (exit 1);
# - state survives down/up: stored configurations and finished runs; a run that was executing is
#   resumed by the coordinator (its stopped attempt LOST, then retried); a run that had not started
#   executing (its event was on the old, in-memory devbroker) is marked failed with interrupted=1;
# - wipe is refused while the stack runs; down WIPE=1 deletes the data;
# - the demo runs on a private stack while this one runs, and leaves it alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

dir=$(mktemp -d /tmp/acms-restart-XXXXXX)
[ -n "${ACMS_STACK_DIRS:-}" ] && echo "$dir" >>"$ACMS_STACK_DIRS"
# the devbroker, whatever ACMS_BUS says: what a restarted stack can continue is the devbroker's case
# (Apache Kafka keeps its topics, so no run is interrupted there; docs/local-stack.md)
export ACMS_BUS=devbroker
export ACMS_RUN_DIR=$dir ACMS_STACK_ENV=$dir/stack.env ACMS_SHUTDOWN_TIMEOUT_MS=2000 REPLICAS=1
unset ACMS_KAFKA_BROKERS ACMS_REDIS_URL
stack() { "$REPO/tools/stack.sh" "$@"; }
trap 'stack down >/dev/null 2>&1 || true' EXIT
ctl() { (cd /tmp && "$BIN/acmsctl" "$@"); }
# redis-cli on the stack's Redis, with its password (tests/lib/stack.sh: REDISCLI_AUTH, not argv)
rcli() { STACK_DIR=$dir STACK_REDIS_PASSWORD=$(cat "$dir/redis.password") stack_redis_cli "$@"; }

# --- secrets -------------------------------------------------------------------------------------------
secret=restart-$RANDOM$RANDOM
printf '# for the example pipeline\nCHURN_DB_PASSWORD=%s\n' "$secret" >"$dir/secrets.env"
chmod 644 "$dir/secrets.env"
rc=0; stack up >"$dir/up0.log" 2>&1 || rc=$?
assert_true "[ $rc -ne 0 ] && grep -q 'readable by others (mode 644): chmod 600' '$dir/up0.log'" "a secrets file others may read is refused"
assert_true "! stack status >/dev/null" "and nothing was started"
chmod 600 "$dir/secrets.env"
stack up >"$dir/up1.log" 2>&1
assert_true "grep -q 'secrets:   1 from $dir/secrets.env: CHURN_DB_PASSWORD' '$dir/up1.log'" "make up names the secrets it loaded"
assert_true "! grep -q '$secret' '$dir/up1.log'" "and never prints a value"
console_url=$(sed -n 's/^  console:   //p' "$dir/up1.log")
assert_true "[ -n '$console_url' ] && curl -fsS -m 5 -o /dev/null '$console_url'" "make up prints the web console's URL, which answers"

# --- up on a running stack -------------------------------------------------------------------------------
stack up >"$dir/up2.log" 2>&1
assert_true "grep -q 'already running with the same settings' '$dir/up2.log'" "up again: same settings, exit 0"
rc=0; REPLICAS=2 stack up >"$dir/up3.log" 2>&1 || rc=$?
assert_true "[ $rc = 1 ] && grep -q 'differs: REPLICAS (replicas of each service): running 1, asked 2' '$dir/up3.log'" \
  "up with REPLICAS=2 on a running stack: the difference named, exit 1"
assert_eq "$(grep -c . "$dir/services")" 6 "and nothing changed (five services and the console)"
echo "OTHER_SECRET=x" >>"$dir/secrets.env"
rc=0; stack up >"$dir/up4.log" 2>&1 || rc=$?
assert_true "[ $rc = 1 ] && grep -q 'differs: $dir/secrets.env' '$dir/up4.log'" "a changed secrets file is named, exit 1"

# --- state across down / up ------------------------------------------------------------------------------
ctl config put "$REPO/examples/pipelines/churn-training.yaml" >/dev/null
ctl submit "$REPO/examples/pipelines/churn-training.yaml" --env dev --wait --quiet >"$dir/churn.out"
assert_true "grep -q 'status     succeeded' '$dir/churn.out'" "the example ran with the secret from secrets.env"
done_run=$(sed -n 's/^run  *//p' "$dir/churn.out")
long=$(ctl submit "$REPO/examples/pipelines/long-running.yaml" --env dev --quiet)
wait_for 60 "[ \"\$(rcli HGET acms:run:$long:step:wait status)\" = running ]" "the long run is executing"
# a run that cannot start executing before the stop: its adapter is down, its event waits on the devbroker
STACK_DIR=$dir stack_stop_service adapter 0
pending=$(ctl submit "$REPO/examples/pipelines/parallel-etl.json" --env dev --quiet)
assert_eq "$(rcli HGET "acms:run:$pending" status)" submitted "a run waits at submitted"
stack down >"$dir/down.log" 2>&1
assert_true "[ ! -e '$dir/stack.env' ] && [ -d '$dir/data/redis/appendonlydir' ]" "down: stack file gone, Redis data kept"
stack up >"$dir/up5.log" 2>&1
assert_true "grep -q 'restarted: 1 run(s) that had not started executing marked failed (interrupted)' '$dir/up5.log'" \
  "up: the run the new devbroker cannot continue is counted"
ctl config list >"$dir/list.out"
assert_true "grep -q '^churn-training ' '$dir/list.out'" "stored configurations survived"
ctl status "$done_run" >"$dir/done.out"
assert_true "grep -q 'status     succeeded' '$dir/done.out'" "finished runs survived"
ctl status "${pending:0:8}" >"$dir/pending.out" || true
assert_true "grep -q 'status     failed' '$dir/pending.out' && grep -q '^reason     interrupted: the stack stopped before this run started executing' '$dir/pending.out'" \
  "the interrupted run is failed, with the reason"
assert_eq "$(rcli HGET "acms:run:$pending" interrupted)" 1 "and interrupted=1"
wait_for 90 "[ \"\$(rcli HGET acms:run:$long:step:wait attempt)\" = 2 ] && [ \"\$(rcli HGET acms:run:$long:step:wait status)\" = running ]" \
  "the executing run was resumed by the new coordinator (attempt 2)"
assert_true "[ \"\$(rcli HGET acms:run:$long:step:wait attempts | grep -c LOST)\" -gt 0 ]" "its stopped attempt is recorded LOST"
ctl cancel "${long:0:8}" --wait --quiet >/dev/null
assert_eq "$(rcli HGET "acms:run:$long" status)" cancelled "and it can be cancelled"

# --- the demo while this stack runs ---------------------------------------------------------------------
runs_before=$(rcli ZCARD acms:runs)
(unset ACMS_RUN_DIR ACMS_STACK_ENV ACMS_SHUTDOWN_TIMEOUT_MS; BIN=$BIN "$REPO/tools/demo.sh" >"$dir/demo.log" 2>&1)
assert_true "grep -q '== demo: the run succeeded' '$dir/demo.log'" "make demo succeeds while a stack runs"
assert_eq "$(rcli ZCARD acms:runs)" "$runs_before" "and leaves that stack alone"
assert_true "stack status >/dev/null" "which still runs"

# --- wiping ---------------------------------------------------------------------------------------------
rc=0; stack wipe >"$dir/wipe1.log" 2>&1 || rc=$?
assert_true "[ $rc -ne 0 ] && grep -q 'make down first' '$dir/wipe1.log'" "wipe is refused while the stack runs"
WIPE=1 stack down >"$dir/down2.log" 2>&1
assert_true "[ ! -e '$dir/data' ] && [ ! -e '$dir/work' ] && [ -f '$dir/secrets.env' ]" "down WIPE=1: data and work gone, secrets kept"
stack up >"$dir/up6.log" 2>&1
ctl config list >"$dir/list2.out" 2>/dev/null
assert_true "! grep -q '^churn-training ' '$dir/list2.out'" "after the wipe the store is empty"
stack down >/dev/null 2>&1
echo "PASS test_stack_restart"
