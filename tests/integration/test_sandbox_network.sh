#!/usr/bin/env bash
# Network isolation of local steps: a step whose adapted configuration is network-isolated runs in
# its own network namespace with only loopback, so it cannot connect to the stack's Redis port (nor
# anything else of the host); the same step without isolation can (the control). In prod, where the
# environment requires network isolation, a step that does not ask for it is isolated all the same.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
source "$here/../lib/sandbox.sh"
stack_init "$(mktemp -d /tmp/acms-sbnet-XXXXXX)"
trap stack_stop EXIT
# prod as shipped, except that a policy the local executor cannot enforce (POL-PROD-ENCRYPT) is a
# warning, so the run goes ahead (require_enforcement is tested in test_acmsctl_cli)
export ACMS_CONFIG_DIR=$STACK_DIR/config
cp -r "$ACMS_REPO/examples" "$ACMS_CONFIG_DIR"
sed -i 's/^  require_enforcement: true$/  require_enforcement: false/' "$ACMS_CONFIG_DIR/environments/prod.yaml"
assert_true "grep -q '^  require_network_isolation: true$' $ACMS_CONFIG_DIR/environments/prod.yaml" "prod requires network isolation"
stack_start_all
sandbox_need netns

redis_port=$(cat "$STACK_DIR/redis.port")
cat >"$STACK_SHARED/connect.py" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    print("connected")
except OSError as e:
    print("no connection: %s" % e)
print("interfaces:", " ".join(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]))
PY
chmod 0644 "$STACK_SHARED/connect.py"
step() { # name isolated
  printf '    - name: %s\n      type: processing\n      command: ["/usr/bin/python3", "%s", "%s"]\n' "$1" "$STACK_SHARED/connect.py" "$redis_port"
  printf '      instance_type: ml.t3.medium\n      max_runtime_s: 60\n      max_attempts: 1\n'
  printf '      output_path: s3://acme-ml/it/%s\n      vpc_config: {network_isolation: %s}\n' "$1" "$2"
}
{ printf 'apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: sandbox-net}\nspec:\n  steps:\n'
  step isolated true; step open false; } >"$STACK_DIR/p.yaml"
out=$("$BIN/acmsctl" submit "$STACK_DIR/p.yaml" --env dev --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run succeeded"
log() { cat "$STACK_DIR/work/$run/$1/attempt-1/stdout.log"; }
echo "isolated: $(log isolated | tr '\n' ' ')"
echo "open:     $(log open | tr '\n' ' ')"
assert_true "log isolated | grep -q '^no connection'" "the isolated step cannot connect to Redis on 127.0.0.1:$redis_port"
assert_true "log isolated | grep -q '^interfaces: lo$'" "the isolated step has only loopback"
assert_true "log open | grep -q '^connected'" "the same step without isolation can (control)"
attempts=$(stack_redis_cli HGET "acms:run:$run:step:isolated" attempts)
assert_true "json_get '$attempts' 0.sandbox | grep -q 'netns (loopback only)'" "its attempt records the namespace"

# prod: the step says nothing of isolation; the environment requires it
cat >"$STACK_DIR/prod.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: sandbox-net-prod}
spec:
  steps:
    - name: probe
      type: processing
      command: ["/usr/bin/python3", "$STACK_SHARED/connect.py", "$redis_port"]
      instance_type: ml.m5.xlarge
      max_runtime_s: 60
      max_attempts: 1
      output_path: s3://acme-ml/it/probe
      tags: {cost-center: cc-1234}
YAML
out=$("$BIN/acmsctl" submit "$STACK_DIR/prod.yaml" --env prod --wait --format json --timeout 120)
prun=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "prod run succeeded"
plog=$(cat "$STACK_DIR/work/$prun/probe/attempt-1/stdout.log")
echo "prod:     $(echo "$plog" | tr '\n' ' ')"
assert_true "echo \"\$plog\" | grep -q '^no connection'" "in prod, a step cannot connect to Redis on 127.0.0.1:$redis_port"
assert_true "echo \"\$plog\" | grep -q '^interfaces: lo$'" "in prod, a step has only loopback"
attempts=$(stack_redis_cli HGET "acms:run:$prun:step:probe" attempts)
assert_true "json_get '$attempts' 0.sandbox | grep -q 'netns (loopback only)'" "its attempt records the namespace"
echo "sandbox: network-isolated steps reach nothing of the host, in prod without asking"
