#!/usr/bin/env bash
# How `acmsctl submit --wait` and `acmsctl watch` learn that a run ended (docs/acmsctl.md): from the
# run's end channel (acms:run:<run>:ended), which the script writing a terminal status publishes on,
# with the status read every ACMS_CTL_END_POLL_MS in case a notification is lost.
#   1. submit --wait of a run whose step waits for a gate: acmsctl subscribes (seen in PUBSUB), the
#      gate opens, the run ends and acmsctl returns with the fallback poll set to ten minutes, so only
#      the notification can have told it (its debug line says "notified").
#   2. a lost notification: watch of a run whose terminal status is written without the script (no
#      PUBLISH) after acmsctl subscribed: it still returns, by its fallback status read.
#   2b. the subscription's connection cut (CLIENT KILL): acmsctl polls the status again as without
#      one, and returns when the run ends although the fallback interval is ten minutes.
#   3. a run that ended before acmsctl subscribed (its notification went to nobody): watch returns
#      at once from its first status read, whatever the fallback interval.
# No step of this test times anything: each waits for a marker (a subscription, a file, an exit).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-wait-notify-XXXXXX)"
trap stack_stop EXIT
stack_start_all

work=$STACK_DIR/p
mkdir -p "$work"
gate=$STACK_SHARED/gate-$$
rcli() { stack_redis_cli "$@"; }
subscribed() { [ "$(rcli PUBSUB NUMSUB "acms:run:$1:ended" | sed -n 2p)" = 1 ]; }
# any_subscribed: the one end channel acmsctl subscribed to -> its run id on stdout
any_subscribed() { rcli PUBSUB CHANNELS 'acms:run:*:ended' | sed -n 's/^acms:run:\(.*\):ended$/\1/p' | head -1; }

cat >"$work/gated.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: wait-notify-$$}
spec:
  steps:
    - {name: gated, type: processing, instance_type: ml.t3.medium, output_path: s3://acme-ml/wn/1,
       command: ["sh", "-c", "while [ ! -f $gate ]; do sleep 0.05; done"]}
YAML

# --- 1. the end comes by notification ------------------------------------------------------------
ACMS_CTL_END_POLL_MS=600000 ACMS_LOG_LEVEL=debug "$BIN/acmsctl" submit "$work/gated.yaml" --env dev --wait \
  --format json --timeout 300 >"$work/1.out" 2>"$work/1.err" &
pid=$!
wait_for 60 '[ -n "$(any_subscribed)" ]' "submit --wait subscribed to its run's end channel"
run=$(any_subscribed)
touch "$gate"
rc=0
wait "$pid" || rc=$?
assert_eq "$rc" 0 "submit --wait returned 0 once the run ended"
assert_eq "$(json_get "$(cat "$work/1.out")" status)" succeeded "its final view says succeeded"
assert_eq "$(json_get "$(cat "$work/1.out")" run_id)" "$run" "the view is of the run it subscribed for"
assert_true 'grep -q "run ended succeeded (notified)" "$work/1.err"' \
  "it learned the end from the notification (the fallback read was ten minutes away)"
wait_for 60 '! subscribed "$run"' "the subscription is gone with acmsctl"

# --- 2. a lost notification: the fallback status read ---------------------------------------------
lost=00000000-0000-4000-8000-$(printf '%012d' $$)
now=$(($(date +%s) * 1000))
rcli HSET "acms:run:$lost" run_id "$lost" status running pipeline lost-$$ environment dev submitted_ms "$now" >/dev/null
ACMS_CTL_END_POLL_MS=200 ACMS_LOG_LEVEL=debug "$BIN/acmsctl" watch "$lost" --format json --timeout 300 \
  >"$work/2.out" 2>"$work/2.err" &
pid=$!
wait_for 60 'subscribed "$lost"' "watch subscribed to the run's end channel"
rcli HSET "acms:run:$lost" status succeeded finished_ms "$now" >/dev/null # no PUBLISH: the notice is lost
rc=0
wait "$pid" || rc=$?
assert_eq "$rc" 0 "watch returned 0 although no notification came"
assert_eq "$(json_get "$(cat "$work/2.out")" status)" succeeded "its final view says succeeded"
assert_true 'grep -q "run ended succeeded (status read)" "$work/2.err"' "it learned the end by its fallback read"

# --- 2b. the subscription broken: back to polling the status every 20 ms -------------------------
cut=00000000-0000-4000-9000-$(printf '%012d' $$)
rcli HSET "acms:run:$cut" run_id "$cut" status running pipeline cut-$$ environment dev submitted_ms "$now" >/dev/null
ACMS_CTL_END_POLL_MS=600000 ACMS_LOG_LEVEL=debug "$BIN/acmsctl" watch "$cut" --format json --timeout 300 \
  >"$work/2b.out" 2>"$work/2b.err" &
pid=$!
wait_for 60 'subscribed "$cut"' "watch subscribed to the run's end channel"
rcli CLIENT KILL TYPE pubsub >/dev/null
wait_for 60 '! subscribed "$cut"' "its subscription was cut"
rcli HSET "acms:run:$cut" status failed finished_ms "$now" >/dev/null
rc=0
wait "$pid" || rc=$?
assert_eq "$rc" 1 "watch returned (1: the run failed) with its fallback read ten minutes away"
assert_eq "$(json_get "$(cat "$work/2b.out")" status)" failed "its final view says failed"

# --- 3. ended before acmsctl subscribed ----------------------------------------------------------
rc=0
ACMS_CTL_END_POLL_MS=600000 ACMS_LOG_LEVEL=debug "$BIN/acmsctl" watch "$run" --format json --timeout 300 \
  >"$work/3.out" 2>"$work/3.err" || rc=$?
assert_eq "$rc" 0 "watch of a run that had already ended returned 0"
assert_eq "$(json_get "$(cat "$work/3.out")" status)" succeeded "its view says succeeded"
assert_true 'grep -q "run ended succeeded (status read)" "$work/3.err"' "from its first status read"

echo "PASS: test_acmsctl_wait_notify"
