#!/usr/bin/env bash
# Identity of local steps: a step runs as the unprivileged step user with a clean environment, so it
# cannot read the coordinator's /proc/<pid>/environ (which holds ACMS_REDIS_URL and would hold the
# bus and Vault credentials), nor the stack's own files (logs, pid files, Redis data), nor list the
# stack directory; it still reaches its own work directory. Programs used: the system's only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
source "$here/../lib/sandbox.sh"
export ACMS_STEP_USER=${ACMS_STEP_USER:-acms-step}
stack_init "$(mktemp -d /tmp/acms-sbid-XXXXXX)"
trap stack_stop EXIT
stack_start_all
sandbox_need user

coord_pid=$(stack__pid coordinator-0)
assert_true "tr '\\0' '\\n' </proc/$coord_pid/environ | grep -q '^ACMS_REDIS_URL='" "the coordinator's environ holds ACMS_REDIS_URL"
# every service of the stack (and Redis): none of their environs is readable from a step
pids=$coord_pid
for svc in adapter-0 validator-0 monitor-0 feedback-0 redis broker; do
  p=$(stack__pid "$svc")
  [ -n "$p" ] && pids="$pids,$p"
done
assert_true "[ \$(echo $pids | tr ',' '\\n' | wc -l) -ge 5 ]" "the services' pids found ($pids)"
cat >"$STACK_SHARED/probe.sh" <<'SH'
echo "user: $(id -un)"
if cat "/proc/$1/environ" >/dev/null 2>&1; then echo "environ: READ"; else echo "environ: denied"; fi
read_any=0
for p in $(echo "$3" | tr ',' ' '); do
  if cat "/proc/$p/environ" >/dev/null 2>&1; then echo "environ of $p: READ"; read_any=1; fi
done
echo "services' environs read: $read_any of $(echo "$3" | tr ',' ' ' | wc -w)"
if cat "$2/coordinator-0.log" >/dev/null 2>&1; then echo "log: READ"; else echo "log: denied"; fi
if cat "$2/coordinator-0.pid" >/dev/null 2>&1; then echo "pid file: READ"; else echo "pid file: denied"; fi
if ls "$2/appendonlydir" >/dev/null 2>&1 || ls "$2" >/dev/null 2>&1; then echo "listing: READ"; else echo "listing: denied"; fi
echo "redis url in env: $(env | grep -c '^ACMS_REDIS_URL=')"
echo "home: $HOME"
echo ok > "$ACMS_STEP_DIR/mine" && echo "own dir: writable"
SH
chmod 0644 "$STACK_SHARED/probe.sh"
cat >"$STACK_DIR/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: sandbox-identity}
spec:
  steps:
    - name: probe
      type: processing
      command: ["/bin/sh", "$STACK_SHARED/probe.sh", "$coord_pid", "$STACK_DIR", "$pids"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      max_attempts: 1
      output_path: s3://acme-ml/it/probe
YAML
out=$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env dev --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run succeeded"
log=$(cat "$STACK_DIR/work/$run/probe/attempt-1/stdout.log")
echo "$log"
assert_true "echo \"\$log\" | grep -q '^user: $ACMS_STEP_USER$'" "the step ran as $ACMS_STEP_USER"
assert_true "echo \"\$log\" | grep -q '^environ: denied$'" "it cannot read the coordinator's environ"
assert_true "echo \"\$log\" | grep -q '^services.* environs read: 0 of '" "nor any other service's, nor Redis's"
assert_true "echo \"\$log\" | grep -q '^log: denied$'" "nor the services' logs"
assert_true "echo \"\$log\" | grep -q '^pid file: denied$'" "nor the stack's pid files"
assert_true "echo \"\$log\" | grep -q '^listing: denied$'" "nor list the stack directory or Redis's data"
assert_true "echo \"\$log\" | grep -q '^redis url in env: 0$'" "its environment carries no service variable"
assert_true "echo \"\$log\" | grep -q '^own dir: writable$'" "it writes its own work directory"
assert_true "echo \"\$log\" | grep -q \"^home: $STACK_DIR/work/$run/probe/attempt-1\$\"" "HOME is its work directory"
assert_true "\"$BIN/acmsctl\" status $run | grep -q '^sandbox .*steps as user $ACMS_STEP_USER'" "acmsctl status shows the sandbox"
echo "sandbox: steps run as $ACMS_STEP_USER and cannot read the services' environ or files"
