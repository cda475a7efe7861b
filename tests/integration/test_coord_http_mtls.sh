#!/usr/bin/env bash
# The http executor over mutual TLS with a bearer token: tests/lib/http_worker.py serves https with a
# certificate of a private CA and requires a client certificate of that CA and the token. The
# coordinator, given ACMS_WORKER_CACERT, ACMS_WORKER_CERT/KEY and ACMS_WORKER_TOKEN_FILE, runs a
# pipeline there. Without a client certificate the worker refuses the TLS handshake; without the
# token it answers 401; a coordinator with no CA for the worker's certificate cannot reach it, and
# the step's failure says why.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-mtls-XXXXXX)"
worker_pid=""
cleanup() {
  [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
  stack_stop
}
trap cleanup EXIT

# a private CA, the worker's certificate (for 127.0.0.1) and the coordinator's client certificate
pki=$STACK_DIR/pki
mkdir -p "$pki"
(
  cd "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=acms-test-ca" -keyout ca.key -out ca.pem 2>/dev/null
  for who in worker coordinator; do
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$who" -keyout "$who.key" -out "$who.csr" 2>/dev/null
  done
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >worker.ext
  printf 'extendedKeyUsage=clientAuth\n' >coordinator.ext
  for who in worker coordinator; do
    openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile "$who.ext" -out "$who.pem" 2>/dev/null
  done
  chmod 600 ./*.key
)
token="wt-$RANDOM-$RANDOM-$$"
(umask 077 && printf '%s\n' "$token" >"$pki/token")

"$STACK_PY" "$REPO/tests/lib/http_worker.py" --work-dir "$STACK_DIR/worker" --token-file "$pki/token" \
  --tls-cert "$pki/worker.pem" --tls-key "$pki/worker.key" --client-ca "$pki/ca.pem" \
  >"$STACK_DIR/worker.port" 2>"$STACK_DIR/http-worker.log" &
worker_pid=$!
wait_for 10 "[ -s $STACK_DIR/worker.port ]" "https worker listening"
port=$(head -1 "$STACK_DIR/worker.port")
url=https://127.0.0.1:$port

# the worker itself: no client certificate, no handshake; a certificate without the token, 401
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$pki/ca.pem" "$url/steps/x" || true)
assert_eq "$code" 000 "no client certificate: the TLS handshake fails"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 --cacert "$pki/ca.pem" --cert "$pki/coordinator.pem" \
  --key "$pki/coordinator.key" "$url/steps/x" || true)
assert_eq "$code" 401 "a client certificate without the token: 401"

export ACMS_CONFIG_DIR=$STACK_DIR/config
cp -r "$REPO/examples" "$ACMS_CONFIG_DIR"
sed -e 's/^metadata: {name: dev}/metadata: {name: devmtls}/' \
    -e "s|^  executor: local|  executor: http\n  worker_url: $url|" \
    "$REPO/examples/environments/dev.yaml" >"$ACMS_CONFIG_DIR/environments/devmtls.yaml"
grep -q "worker_url: $url" "$ACMS_CONFIG_DIR/environments/devmtls.yaml"

work=$STACK_DIR/pipeline
mkdir -p "$work"
cat >"$work/p.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: coord-mtls, labels: {team: it}}
spec:
  steps:
    - name: s1
      type: processing
      command: ["$BIN/acms-stepload", "--touch", "$work/ran.txt"]
      instance_type: ml.t3.medium
      max_runtime_s: 60
      max_attempts: 1
      output_path: s3://acme-ml/it/mtls
      tags: {cost-center: cc-1}
YAML

# first without a CA for the worker's certificate: the step cannot be handed over, and says why
ACMS_WORKER_TOKEN_FILE=$pki/token ACMS_WORKER_CERT=$pki/coordinator.pem ACMS_WORKER_KEY=$pki/coordinator.key \
  stack_start_all
out=$("$BIN/acmsctl" submit "$work/p.yaml" --env devmtls --wait --format json --timeout 120) || true
run=$(json_get "$out" run_id)
assert_eq "$(stack_redis_cli HGET "acms:run:$run" status)" failed "an unverifiable worker certificate fails the run"
msg=$(stack_redis_cli HGET "acms:run:$run:step:s1" message)
assert_true "echo \"\$msg\" | grep -qi 'certificate\|ssl\|tls'" "the step's failure names the certificate problem ($msg)"
assert_true "[ ! -e '$work/ran.txt' ]" "nothing ran"

# then with the CA: the run succeeds over mTLS
stack_stop_service coordinator 0
ACMS_WORKER_TOKEN_FILE=$pki/token ACMS_WORKER_CERT=$pki/coordinator.pem ACMS_WORKER_KEY=$pki/coordinator.key \
  ACMS_WORKER_CACERT=$pki/ca.pem stack_start_service coordinator 0
stack_wait_ready 60
out=$("$BIN/acmsctl" submit "$work/p.yaml" --env devmtls --wait --format json --timeout 120)
run=$(json_get "$out" run_id)
assert_eq "$(stack_redis_cli HGET "acms:run:$run" status)" succeeded "the run succeeds over mutual TLS"
assert_eq "$(grep -c -x "$run s1 1" "$work/ran.txt")" 1 "the step ran once, on the worker"
assert_true "grep -q 'POST /steps' '$STACK_DIR/http-worker.log'" "handed to the worker"
assert_no_secret "$token"
echo "coordinator http executor over mTLS: handshake and token required, certificate problems named"
