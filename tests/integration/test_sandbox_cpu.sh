#!/usr/bin/env bash
# CPU quota from vCPU: a CPU-bound step with vcpu 1 and two busy processes uses at most about 1.1
# cores. The CPU time is the cgroup's (every process of the step), divided by the step's wall time
# as the coordinator measured it (from spawn to reap, so never shorter than the busy period): a
# quota can only make this smaller on a loaded machine, never larger.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
source "$here/../lib/sandbox.sh"
stack_init "$(mktemp -d /tmp/acms-sbcpu-XXXXXX)"
trap stack_stop EXIT
stack_start_all
sandbox_need cgroup

cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: sandbox-cpu}
spec:
  steps:
    - name: spin
      type: processing
      command: ["/bin/sh", "-c", "timeout 4 sh -c 'while :; do :; done' & timeout 4 sh -c 'while :; do :; done'; wait"]
      instance_type: ml.t3.medium
      vcpu: 1
      max_runtime_s: 60
      max_attempts: 1
      output_path: s3://acme-ml/it/spin
YAML
out=$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env dev --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run succeeded"
attempts=$(stack_redis_cli HGET "acms:run:$run:step:spin" attempts)
cpu=$(( $(json_get "$attempts" 0.user_cpu_ms) + $(json_get "$attempts" 0.sys_cpu_ms) ))
wall=$(json_get "$attempts" 0.wall_ms)
cores=$(awk -v c="$cpu" -v w="$wall" 'BEGIN { printf "%.2f", c / w }')
echo "cgroup CPU time $cpu ms over $wall ms of wall time: $cores cores ($(json_get "$attempts" 0.sandbox))"
assert_true "json_get '$attempts' 0.sandbox | grep -q 'cpu 1 '" "the attempt ran under a 1-vCPU quota"
assert_true "awk -v c=$cpu -v w=$wall 'BEGIN { exit !(c <= 1.1 * w) }'" "at most 1.1 cores used ($cores)"
assert_true "[ $cpu -gt 0 ]" "the CPU time was measured"
echo "sandbox: vcpu 1 holds two busy processes to one core"
