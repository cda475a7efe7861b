#!/usr/bin/env bash
# acms-console in a real browser: Debian's chromium, headless, driven over the DevTools protocol by
# tests/integration/console_browser.py (tests/lib/cdp.py). The stack runs a failed pipeline (a
# diamond whose `train` step exits 3: `evaluate` is skipped, the other steps succeed), a pipeline
# named <img src=x onerror=alert(1)> (rejected: its name is not valid) and two stored versions of a
# configuration; the console asks for a token. The browser enters the token, lists the runs, sees
# the markup-named pipeline as text (no <img>, no dialog), opens the failed run and sees its DAG
# coloured, an adaptation reason, the failed attempt and its cause; follows a running run until its
# waiting step (released by a file the browser script makes) turns green; then the configuration's diff.
# Screenshots are kept in tests/artifacts/ (console-list.png, console-run.png; CI keeps them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

command -v chromium >/dev/null || { echo "FAIL: chromium is missing (make deps installs it)" >&2; exit 1; }
"$STACK_PY" -c 'import websocket' || { echo "FAIL: python3-websocket is missing (make deps)" >&2; exit 1; }

# the page's script never hands a string to the HTML parser (what the DOM checks below see at run time)
assert_true "! grep -n -E 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment|\beval\(|new Function' '$REPO/services/console/web/app.js'" \
  "app.js parses no string as HTML"

stack_init "$(mktemp -d /tmp/acms-console-browser-XXXXXX)"
gate=$(mktemp -d /tmp/acms-console-gate-XXXXXX) # readable by a step's user: see the live run below
chmod 755 "$gate"
trap 'rm -rf "$gate"; stack_stop' EXIT
t0=$(date +%s)
stack_start_all
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
ACMS_CONSOLE_TOKEN=$token stack_start_service console 0
stack_wait_ready 30
url=http://127.0.0.1:$(cat "$STACK_DIR/console-0.port")/

work=$STACK_DIR/pipelines
mkdir -p "$work"
cat >"$work/churn.yaml" <<'YAML'
apiVersion: acms/v1
kind: Pipeline
metadata: {name: churn-training, labels: {team: growth}}
spec:
  steps:
    - {name: ingest, type: processing, command: ["true"], instance_type: ml.m5.large, output_path: s3://acme-ml/churn/raw}
    - {name: clean, type: processing, command: ["true"], instance_type: ml.m5.large, depends_on: [ingest], output_path: s3://acme-ml/churn/clean}
    - {name: features, type: transform, command: ["true"], instance_type: ml.m5.large, depends_on: [ingest], output_path: s3://acme-ml/churn/features}
    - name: train
      type: training
      command: ["sh", "-c", "echo 'loss is NaN at epoch 3' >&2; exit 3"]
      instance_type: ml.m5.xlarge
      depends_on: [clean, features]
      output_path: s3://acme-ml/churn/model
    - {name: evaluate, type: evaluation, command: ["true"], instance_type: ml.m5.large, depends_on: [train]}
    - {name: report, type: custom, command: ["true"], instance_type: ml.m5.large, depends_on: [clean]}
YAML
cat >"$work/xss.yaml" <<'YAML'
apiVersion: acms/v1
kind: Pipeline
metadata: {name: "<img src=x onerror=alert(1)>"}
spec:
  steps:
    - {name: only, type: processing, command: ["true"], instance_type: ml.m5.large}
YAML
rc=0
out=$("$BIN/acmsctl" submit "$work/churn.yaml" --env dev --wait --format json --timeout 120) || rc=$?
assert_eq "$rc" 1 "the churn run fails (acmsctl exit 1)"
failed=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" failed "the churn run failed"
reason=$(json_get "$out" adaptations.0.reason)
rc=0
out=$("$BIN/acmsctl" submit "$work/xss.yaml" --env dev --wait --format json --timeout 120) || rc=$?
xss=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" rejected "the markup-named pipeline is rejected (its name is not valid)"
# a run that waits: its step `hold` runs until the browser script makes the file go
cat >"$work/live.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: live-run}
spec:
  steps:
    - name: hold
      type: processing
      command: ["sh", "-c", "while [ ! -e $gate/go ]; do sleep 0.1; done"]
      instance_type: ml.m5.large
      max_runtime_s: 300
      output_path: s3://acme-ml/live/hold
    - {name: after, type: processing, command: ["true"], instance_type: ml.m5.large, depends_on: [hold], output_path: s3://acme-ml/live/after}
YAML
live=$("$BIN/acmsctl" submit "$work/live.yaml" --env dev --quiet)
"$BIN/acmsctl" config put "$work/churn.yaml" >/dev/null
sed 's/ml.m5.xlarge/ml.m5.2xlarge/' "$work/churn.yaml" >"$work/churn-v2.yaml"
"$BIN/acmsctl" config put "$work/churn-v2.yaml" >/dev/null
t1=$(date +%s)

artifacts=$REPO/tests/artifacts
mkdir -p "$artifacts"
"$STACK_PY" "$here/console_browser.py" "$url" "$token" "$failed" "$xss" '<img src=x onerror=alert(1)>' \
  "$reason" churn-training "$artifacts" "$live" "$gate/go"
assert_true "[ -s '$artifacts/console-run.png' ]" "screenshot kept: tests/artifacts/console-run.png"
echo "time: stack and runs $((t1 - t0)) s, browser $(( $(date +%s) - t1 )) s"
