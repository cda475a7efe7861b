#!/usr/bin/env bash
# The local sandbox's fallback, as on a host without cgroups (ACMS_CGROUP=off): the coordinator
# says so in its log and on each attempt (memory polled from /proc, RLIMIT_AS, no CPU quota), and a
# step past its memory limit is still stopped and reported as MEMORY, labelled as polled rather than
# as the kernel's OOM kill; its retry gets more memory. (Attempt 1 holds 300 MiB until it is
# stopped; attempt 2 holds nothing and ends at once.) The other parts of the sandbox (user,
# network namespace) stay.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
source "$here/../lib/sandbox.sh"
stack_init "$(mktemp -d /tmp/acms-sbfall-XXXXXX)"
trap stack_stop EXIT
export ACMS_CGROUP=off ACMS_SAFETY_THRESHOLD=1
stack_start_all
label=$(sandbox_label)
echo "coordinator: sandbox for local steps: $label"
assert_true "echo '$label' | grep -q '^no cgroups (cgroups switched off (ACMS_CGROUP=off)): memory polled from /proc every 50 ms with RLIMIT_AS, no CPU quota'" \
  "the coordinator says it polls, and why"

cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: sandbox-fallback}
spec:
  steps:
    - name: hog
      type: processing
      command: ["/usr/bin/python3", "-c", "import os, time; b = bytearray(300 << 20) if os.environ['ACMS_ATTEMPT'] == '1' else b''; time.sleep(60 if b else 0)"]
      instance_type: ml.t3.medium
      memory_mb: 160
      max_runtime_s: 120
      max_attempts: 2
      output_path: s3://acme-ml/it/hog
YAML
out=$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env dev --wait --format json --timeout 180)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run succeeded (attempt 2 holds nothing)"
attempts=$(stack_redis_cli HGET "acms:run:$run:step:hog" attempts)
echo "attempt 1: $(json_get "$attempts" 0.sandbox)"
echo "           $(json_get "$attempts" 0.cause)"
assert_true "json_get '$attempts' 0.sandbox | grep -q 'memory polled from /proc'" "the attempt is labelled as polled"
assert_eq "$(json_get "$attempts" 0.reason)" MEMORY "attempt 1 reported as MEMORY"
assert_true "json_get '$attempts' 0.cause | grep -q 'polled'" "its cause says the limit was polled, not the kernel's"
assert_true "! json_get '$attempts' 0.cause | grep -q 'OOM-killed by the kernel'" "and does not claim the kernel's OOM kill"
assert_true "[ $(json_get "$attempts" 1.memory_mb) -gt 160 ]" "attempt 2 had more memory ($(json_get "$attempts" 1.memory_mb) MiB)"
echo "sandbox fallback: without cgroups the limit is polled and says so"
