#!/usr/bin/env bash
# make demo: bring the local stack up (unless it already runs), validate and submit the example
# pipeline for dev, follow it with progress, print the result, and bring the stack down again.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
case "$BIN" in /*) ;; *) BIN=$PWD/$BIN ;; esac
export BIN
pipeline=${DEMO_PIPELINE:-examples/pipelines/churn-training.yaml}
env=${DEMO_ENV:-dev}

# the example reads a database password through secret://env/CHURN_DB_PASSWORD: the coordinator
# resolves it into the step's environment at exec time; it never travels on the bus or into Redis
export CHURN_DB_PASSWORD=${CHURN_DB_PASSWORD:-demo-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')}

started=0
if ! tools/stack.sh status >/dev/null 2>&1; then
  echo "== starting the local stack (redis-server, acms-devbroker, five services)"
  tools/stack.sh up
  started=1
fi
cleanup() { [ "$started" = 1 ] && { echo "== stopping the local stack"; tools/stack.sh down; }; }
trap cleanup EXIT

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
