#!/usr/bin/env bash
# /healthz follows the consume loop's progress (ACMS_STALL_TIMEOUT_MS): an adapter whose input waits
# while Redis is away retries the same event, commits nothing and is never idle, so after the bound
# /healthz answers 503 "consume loop without progress" (Kubernetes would restart it) while the
# process runs; with Redis back the event is handled, /healthz answers 200 again and the run goes on.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-stall-XXXXXX)"
trap stack_stop EXIT
export CHURN_DB_PASSWORD="stall-$RANDOM"
export ACMS_STALL_TIMEOUT_MS=3000
stack_start_all
url() { echo "http://127.0.0.1:$(cat "$STACK_DIR/$1.port")$2"; }
code() { curl -s -o /dev/null -w '%{http_code}' -m 3 "$1" || true; }

assert_eq "$(code "$(url adapter-0 /healthz)")" 200 "the adapter is healthy"

stack_stop_service adapter 0
out=$("$BIN/acmsctl" submit "$REPO/examples/pipelines/churn-training.yaml" --env dev --format json)
run=$(json_get "$out" run_id)
stack_stop_redis
stack_start_service adapter 0
wait_for 60 "[ \"\$(code $(url adapter-0 /healthz))\" = 503 ]" "adapter unhealthy while its event cannot be handled"
body=$(curl -s -m 3 "$(url adapter-0 /healthz)" || true)
assert_true "echo '$body' | grep -q 'consume loop without progress'" "the reason: $body"
assert_true "[ -n \"\$(stack__pid adapter-0)\" ]" "the process still runs (a liveness probe restarts it)"
stack_start_redis
wait_for 60 "[ \"\$(code $(url adapter-0 /healthz))\" = 200 ]" "healthy again once the event is handled"
out=$("$BIN/acmsctl" watch "$run" --timeout 120 --format json 2>/dev/null || true)
wait_for 60 "[ \"\$(stack_redis_cli HGET acms:run:$run status)\" = succeeded ]" "the run went on"
echo "health: a stalled consume loop turns /healthz 503 and back"
