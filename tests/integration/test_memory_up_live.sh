#!/usr/bin/env bash
# A memory_up approved while a step runs raises that attempt's limit in place, and the step survives.
# The step takes 270 MiB of its 300 MiB (90 %: the monitor proposes memory_up, the adapter approves
# it), waits until its limit has been raised (the test creates a marker once the coordinator has
# recorded it), then takes 60 MiB more, past its old limit. One attempt, no retry: it survived.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
source "$here/../lib/sandbox.sh"
stack_init "$(mktemp -d /tmp/acms-liveup-XXXXXX)"
trap stack_stop EXIT
stack_start_all
sandbox_need cgroup

cat >"$STACK_SHARED/grow.py" <<'PY'
import os, sys, time
first = b"x" * (270 << 20)
deadline = time.time() + 90
while not os.path.exists("raised"):
    if time.time() > deadline:
        print("the limit was never raised", file=sys.stderr)
        sys.exit(3)
    time.sleep(0.05)
second = b"y" * (60 << 20)
print("holding %d MiB" % ((len(first) + len(second)) >> 20))
PY
chmod 0644 "$STACK_SHARED/grow.py"
cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: live-memory-up}
spec:
  steps:
    - name: grow
      type: training
      command: ["/usr/bin/python3", "$STACK_SHARED/grow.py"]
      instance_type: ml.m5.large
      memory_mb: 300
      max_runtime_s: 120
      max_attempts: 1
      output_path: s3://acme-ml/it/grow
YAML
run=$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env dev --quiet)
echo "run $run"
wait_for 90 "[ -n \"\$(stack_redis_cli HGET acms:run:$run:step:grow live_adaptations)\" ]" \
  "the coordinator raised the running attempt's limit"
live=$(stack_redis_cli HGET "acms:run:$run:step:grow" live_adaptations)
echo "live: $live"
touch "$STACK_DIR/work/$run/grow/attempt-1/raised"
wait_for 90 "[ \"\$(stack_redis_cli HGET acms:run:$run status)\" = succeeded ]" "the run succeeded"
attempts=$(stack_redis_cli HGET "acms:run:$run:step:grow" attempts)
assert_eq "$(stack_redis_cli HGET "acms:run:$run:step:grow" attempt)" 1 "one attempt: it survived"
assert_eq "$(json_get "$attempts" 0.reason)" OK "the attempt succeeded"
assert_true "echo '$live' | grep -q '^memory 300 -> [0-9]* MiB at +'" "the attempt records the raise"
new=$(echo "$live" | sed -n 's/^memory 300 -> \([0-9]*\) MiB.*/\1/p')
assert_true "[ $new -gt 330 ]" "to more than the step then used ($new MiB)"
assert_true "json_get '$attempts' 0.live_adaptations | grep -q 'memory 300 -> $new'" "in its attempt record"
assert_true "[ $(json_get "$attempts" 0.peak_rss_kb) -gt $((300 * 1024)) ]" "it went past its old limit ($(( $(json_get "$attempts" 0.peak_rss_kb) / 1024 )) MiB)"
# grep -a: the list starts with the packed (binary) prepared log, and grep would print only
# "Binary file matches" for the next grep to read
assert_true "stack_redis_cli LRANGE acms:run:$run:adaptations 0 -1 | grep -a '\"stage\":\"runtime\"' | grep -q 'raised in place on running attempt 1'" \
  "the adaptation log records it"
echo "live adaptation: memory_up raised the running attempt's cgroup limit; it survived"
