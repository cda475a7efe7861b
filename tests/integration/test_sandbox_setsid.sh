#!/usr/bin/env bash
# Every process of a step is the step's: a child that leaves the step's session with setsid (the
# escape from a process-group kill) is counted in the step's memory and killed when the step ends.
# The step starts such a child holding 200 MiB, waits until it has it, and exits 0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
source "$here/../lib/sandbox.sh"
stack_init "$(mktemp -d /tmp/acms-sbsetsid-XXXXXX)"
trap stack_stop EXIT
stack_start_all
sandbox_need cgroup

cat >"$STACK_SHARED/escape.py" <<'PY'
import os, sys, time
if os.fork() == 0:
    os.setsid()
    hold = b"x" * (200 << 20)
    open("child.pid", "w").write(str(os.getpid()))
    time.sleep(600)
    sys.exit(0)
deadline = time.time() + 60
while not os.path.exists("child.pid") and time.time() < deadline:
    time.sleep(0.05)
print("child", open("child.pid").read(), "holds 200 MiB in session", os.getsid(int(open("child.pid").read())))
PY
chmod 0644 "$STACK_SHARED/escape.py"
cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: sandbox-setsid}
spec:
  steps:
    - name: escape
      type: processing
      command: ["/usr/bin/python3", "$STACK_SHARED/escape.py"]
      instance_type: ml.t3.medium
      memory_mb: 512
      max_runtime_s: 120
      max_attempts: 1
      output_path: s3://acme-ml/it/escape
YAML
out=$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env dev --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run succeeded"
dir=$STACK_DIR/work/$run/escape/attempt-1
cat "$dir/stdout.log"
child=$(cat "$dir/child.pid")
assert_true "[ -n \"$child\" ]" "the step started a setsid child (pid $child)"
wait_for 30 "! kill -0 $child 2>/dev/null" "the setsid child was killed with its step"
peak=$(stack_redis_cli HGET "acms:run:$run:step:escape" peak_rss_kb)
assert_true "[ $peak -ge $((200 * 1024)) ]" "its 200 MiB counted in the step's peak ($((peak / 1024)) MiB)"
echo "sandbox: a setsid child is the step's, in memory and in death"
