#!/usr/bin/env bash
# Memory limits are the kernel's: a step allocating past its limit is OOM-killed by the kernel inside
# its cgroup, the coordinator reads the kill from the cgroup and reports MEMORY (not a guess from a
# sampled RSS), and the retry runs with more memory and succeeds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
source "$here/../lib/sandbox.sh"
stack_init "$(mktemp -d /tmp/acms-sboom-XXXXXX)"
trap stack_stop EXIT
# no runtime memory_up here (test_memory_up_live has it): a live raise could rescue the attempt this
# test needs to see killed, depending on timing
export ACMS_SAFETY_THRESHOLD=1
stack_start_all
sandbox_need cgroup

# dev: ml.t3.medium is 4 GiB x 0.0625 = 256 MiB; the step asks for 160 MiB and needs ~200
cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: sandbox-oom}
spec:
  steps:
    - name: hog
      type: processing
      command: ["/bin/sh", "-c", "head -c 200M /dev/zero | tail >/dev/null"]
      instance_type: ml.t3.medium
      memory_mb: 160
      max_runtime_s: 120
      max_attempts: 3
      output_path: s3://acme-ml/it/hog
YAML
out=$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env dev --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run succeeded"
attempts=$(stack_redis_cli HGET "acms:run:$run:step:hog" attempts)
echo "attempt 1: $(json_get "$attempts" 0.cause)"
echo "           $(json_get "$attempts" 0.recovery)"
assert_eq "$(json_get "$attempts" 0.reason)" MEMORY "attempt 1 reported as MEMORY"
assert_true "json_get '$attempts' 0.cause | grep -q 'OOM-killed by the kernel at its cgroup memory limit of 160 MiB'" \
  "the kill was the kernel's, read from the cgroup"
assert_eq "$(json_get "$attempts" 0.memory_mb)" 160 "attempt 1 limit"
assert_true "[ $(json_get "$attempts" 0.peak_rss_kb) -le $((160 * 1024 + 1024)) ]" "attempt 1 never went past its limit"
assert_eq "$(json_get "$attempts" 1.reason)" OK "attempt 2 succeeded"
assert_true "[ $(json_get "$attempts" 1.memory_mb) -gt 160 ]" "attempt 2 had more memory ($(json_get "$attempts" 1.memory_mb) MiB)"
assert_true "[ $(json_get "$attempts" 1.peak_rss_kb) -gt $((160 * 1024)) ]" "attempt 2 used more than the first limit"
echo "sandbox: the kernel's OOM kill reported as MEMORY, the retry sized up"
