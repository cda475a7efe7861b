#!/usr/bin/env bash
# make demo: a private stack of its own (whether or not `make up` runs: it never touches run/), the
# example pipeline validated, prepared and run for dev with progress, the result, and the private
# stack stopped and deleted again.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
case "$BIN" in /*) ;; *) BIN=$PWD/$BIN ;; esac
export BIN
pipeline=${DEMO_PIPELINE:-examples/pipelines/churn-training.yaml}
env=${DEMO_ENV:-dev}

demo_dir=$(mktemp -d /tmp/acms-demo-XXXXXX)
export ACMS_RUN_DIR=$demo_dir ACMS_STACK_ENV=$demo_dir/stack.env ACMS_SECRETS_FILE=$demo_dir/secrets.env
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  echo "== stopping the demo stack"
  tools/stack.sh down >/dev/null || true
  rm -rf "$demo_dir"
}
trap cleanup EXIT

# the example reads a database password through secret://env/CHURN_DB_PASSWORD: the stack's services
# get it from the secrets file (as `make up` reads run/secrets.env); only the step's process sees the
# value, never the bus or Redis
(umask 077 && echo "CHURN_DB_PASSWORD=demo-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$ACMS_SECRETS_FILE")

echo "== starting a demo stack in $demo_dir (redis-server, acms-devbroker, five services)"
tools/stack.sh up
echo
echo "== acmsctl validate $pipeline --env $env"
"$BIN/acmsctl" validate "$pipeline" --env "$env" || true
echo
echo "== acmsctl prepare $pipeline --env $env   (what the adapter will change, and why)"
"$BIN/acmsctl" prepare "$pipeline" --env "$env"
echo
echo "== acmsctl submit $pipeline --env $env --wait"
set +e
"$BIN/acmsctl" submit "$pipeline" --env "$env" --wait
rc=$?
set -e
echo
if [ $rc -eq 0 ]; then echo "== demo: the run succeeded"; else echo "== demo: the run ended with exit code $rc"; fi
exit $rc
