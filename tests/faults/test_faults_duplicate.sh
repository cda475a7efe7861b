#!/usr/bin/env bash
# Scenario 5: every event delivered twice. tests/faults/doubler.py follows every input topic and
# produces each message once more right behind the original (exact key, payload and headers), for
# a whole stream of FAULTS_RUNS runs: every ConfigSubmitted, ConfigPrepared, ConfigValidated,
# StepEvent, ExecutionResult, ValidationResultEvent, Alert ... arrives twice. Once every run has
# ended, the whole history is replayed once more (late duplicates). Each event must still have one
# effect: one run per submission, each step attempt executed once, one result id per run, no
# counter doubled (feedback, monitor baselines, learned fixes).
# shellcheck disable=SC2034 # F_FAILED and F_EXTRA_CLEANUP are read by lib.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

faults_begin duplicate 200
faults_start_stack
"$STACK_PY" "$here/doubler.py" follow --brokers "$ACMS_KAFKA_BROKERS" --stats "$F_WORK/follow.json" \
  >"$F_WORK/doubler.log" 2>&1 &
doubler=$!
F_EXTRA_CLEANUP="kill $doubler 2>/dev/null || true"
faults_submit_start
faults_submit_wait
faults_wait_terminal 240
faults_wait_idle 90 || true
kill -TERM "$doubler"
wait "$doubler" || F_FAILED="the doubler could not deliver every copy"
faults__log "delivered twice: $(cat "$F_WORK/follow.json")"
faults__log "replaying the whole history once more"
"$STACK_PY" "$here/doubler.py" replay --brokers "$ACMS_KAFKA_BROKERS" --stats "$F_WORK/replay.json" ||
  F_FAILED="the replay could not deliver every copy"
faults_wait_idle 90 || true

n=$(faults_submitted)
"$STACK_PY" - "$F_WORK/follow.json" "$n" <<'PY' || F_FAILED="${F_FAILED:-} not every event was delivered twice"
import json, sys
copied = json.load(open(sys.argv[1]))["copied"]
n = int(sys.argv[2])
need = {"acms.config.submitted": n, "acms.config.prepared": n, "acms.config.validated": n,
        "acms.exec.steps": 6 * n, "acms.exec.results": n, "acms.validation.results": n}
bad = {t: (copied.get(t, 0), k) for t, k in need.items() if copied.get(t, 0) < k}
for t, (got, k) in sorted(bad.items()):
    print("FAIL: %s: %d copies, at least %d expected" % (t, got, k))
sys.exit(1 if bad else 0)
PY
faults_finish
