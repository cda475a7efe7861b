#!/usr/bin/env bash
# The operator's commands on the real stack (docs/operations.md): acmsctl list (newest first, its
# filters, --since, --limit, JSON), logs (-f from before the step starts through a retried attempt
# to its end, each line once; a secret the step prints is masked in the output and in Redis), retry
# (only the failed and skipped steps run again, the succeeded one is reused and not executed; the
# runs link both ways in status and in acms-console's API; a run that succeeded or has not ended is
# refused) and delete (refused while the run runs; afterwards no key of the run is left, status says
# it was deleted and list no longer shows it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-ctl-ops-XXXXXX)"
trap stack_stop EXIT
export DEV_OPS_PASSWORD="ops-pw-$RANDOM$RANDOM-$$" CHURN_DB_PASSWORD="churn-pw-$$"
stack_start_all
stack_start_service console 0
stack_wait_ready 30
console=http://127.0.0.1:$(cat "$STACK_DIR/console-0.port")

ctl() { "$BIN/acmsctl" "$@"; }
jq_py() { "$STACK_PY" -c 'import json,sys
d=json.loads(sys.argv[1])
v=eval(sys.argv[2])
print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1" "$2"; }
work=$STACK_DIR/p
mkdir -p "$work"
marks=$STACK_SHARED/marks   # steps write here: they run as the sandbox's step user
mkdir -p "$marks"
chmod 1777 "$marks"

# flaky: first succeeds (and counts its executions), second fails until a file exists, third waits
cat >"$work/flaky.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: ops-flaky-$$}
spec:
  steps:
    - {name: first, type: processing, instance_type: ml.t3.medium, max_attempts: 1, output_path: s3://acme-ml/ops/1,
       command: ["sh", "-c", "echo ran >> $marks/first.count; echo first-done"]}
    - {name: second, type: processing, instance_type: ml.t3.medium, max_attempts: 1, output_path: s3://acme-ml/ops/2,
       depends_on: [first], command: ["sh", "-c", "echo ran >> $marks/second.count; test -f $marks/fixed"]}
    - {name: third, type: processing, instance_type: ml.t3.medium, max_attempts: 1, output_path: s3://acme-ml/ops/3,
       depends_on: [second], command: ["sh", "-c", "echo third-done"]}
YAML
# talk: waits for a go file, prints lines over time (its secret among them); its first attempt is
# killed by a signal (a transient failure: retried)
cat >"$work/talk.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: ops-talk-$$}
spec:
  steps:
    - {name: gate, type: processing, instance_type: ml.t3.medium, output_path: s3://acme-ml/ops/g,
       command: ["sh", "-c", "while [ ! -f $marks/go ]; do sleep 0.1; done"]}
    - name: talk
      type: processing
      instance_type: ml.t3.medium
      max_attempts: 2
      depends_on: [gate]
      output_path: s3://acme-ml/ops/t
      env: {DB_PASSWORD: "secret://env/DEV_OPS_PASSWORD"}
      command: ["sh", "-c", "n=\$ACMS_ATTEMPT; for i in 1 2 3; do echo \"attempt \$n line \$i\"; sleep 0.4; done; echo \"pw=\$DB_PASSWORD end\"; echo \"attempt \$n stderr\" >&2; [ \$n -ge 2 ] || kill -TERM \$\$"]
YAML

# --- list ---------------------------------------------------------------------------------------
rc=0
old=$(ctl submit "$work/flaky.yaml" --env dev --wait --format json --timeout 120) || rc=$?
old=$(json_get "$old" run_id)
assert_eq "$rc" 1 "the flaky run fails"
ok=$(json_get "$(ctl submit "$REPO/examples/pipelines/churn-training.yaml" --env staging --wait --format json --timeout 120 \
  2>/dev/null || true)" run_id)
l=$(ctl list --format json)
assert_eq "$(jq_py "$l" '[r["run_id"] for r in d["runs"]][:2]')" "[\"$ok\", \"$old\"]" "list: newest first"
assert_eq "$(jq_py "$l" '[r for r in d["runs"] if r["run_id"]=="'"$old"'"][0]["steps_done"]')" 3 "list: steps done"
assert_true "[ $(jq_py "$l" '[r for r in d["runs"] if r["run_id"]=="'"$old"'"][0]["duration_ms"]') -ge 0 ]" "list: duration"
assert_eq "$(jq_py "$(ctl list --status failed --format json)" '[r["run_id"] for r in d["runs"]]')" "[\"$old\"]" "list --status"
assert_eq "$(jq_py "$(ctl list --env staging --format json)" '[r["run_id"] for r in d["runs"]]')" "[\"$ok\"]" "list --env"
assert_eq "$(jq_py "$(ctl list --pipeline ops-flaky-$$ --format json)" 'len(d["runs"])')" 1 "list --pipeline"
assert_eq "$(jq_py "$(ctl list --limit 1 --format json)" '[len(d["runs"]), d["more"]]')" "[1, true]" "list --limit 1: one, and more"
assert_eq "$(jq_py "$(ctl list --since 2000-01-01 --format json)" 'len(d["runs"])')" 2 "list --since a date"
assert_eq "$(jq_py "$(ctl list --since "$(date -u -d '+1 day' +%Y-%m-%d)" --format json)" 'len(d["runs"])')" 0 \
  "list --since tomorrow: none"
assert_eq "$(jq_py "$(ctl list --since 1h --format json)" 'len(d["runs"])')" 2 "list --since 1h"
rc=0; ctl list --since yesterday 2>/dev/null || rc=$?
assert_eq "$rc" 2 "list --since with a bad value: exit 2"
ctl list >"$work/list.txt"
assert_true "head -1 $work/list.txt | grep -q 'RUN.*PIPELINE.*ENV.*STATUS.*STEPS.*STARTED.*DURATION'" "list: a header"
assert_true "grep -q \"^$old  ops-flaky-$$ .*dev .*failed .*3/3 \" $work/list.txt" "list: one line per run"

# --- logs -f: from before the step starts, through its retry, to its end --------------------------
talk=$(ctl submit "$work/talk.yaml" --env dev --quiet)
ctl logs "${talk:0:8}" talk -f --timeout 120 >"$work/talk.out" 2>"$work/talk.err" &
follower=$!
wait_for 30 "[ \"\$(stack_redis_cli HGET acms:run:$talk:step:gate status)\" = running ]" "the gate step runs"
assert_true "kill -0 $follower" "logs -f waits for the step to start"
touch "$marks/go"
wait "$follower"
cat "$work/talk.out" "$work/talk.err"
stars=$(printf '%*s' "${#DEV_OPS_PASSWORD}" '' | tr ' ' '*')  # a secret becomes as many '*' in a log tail
expected="attempt 1 line 1
attempt 1 line 2
attempt 1 line 3
pw=$stars end
attempt 2 line 1
attempt 2 line 2
attempt 2 line 3
pw=$stars end"
assert_eq "$(cat "$work/talk.out")" "$expected" "logs -f printed both attempts' stdout once each, masked"
assert_true "grep -q 'attempt 1 stderr' $work/talk.err && grep -q -- '--- acmsctl: step talk attempt 2 ---' $work/talk.err" \
  "stderr and the attempt header on stderr"
assert_eq "$(ctl logs "$talk" talk --attempt 1 2>/dev/null | tail -1)" "pw=$stars end" "logs --attempt 1"
assert_true "! ctl logs $talk talk --format json | grep -q -F '$DEV_OPS_PASSWORD'" "the secret is not in logs --format json"
for a in 1 2; do
  assert_true "! stack_redis_cli HGETALL acms:run:$talk:log:talk:$a | grep -q -F '$DEV_OPS_PASSWORD'" "nor in Redis (attempt $a)"
done
rc=0; ctl logs "$talk" nosuchstep 2>/dev/null || rc=$?
assert_eq "$rc" 1 "logs of an unknown step: exit 1"

# --- retry -----------------------------------------------------------------------------------------
rc=0; ctl retry "$ok" 2>/dev/null || rc=$?
assert_eq "$rc" 1 "retry of a run that succeeded: exit 1"
touch "$marks/fixed"
out=$(ctl retry "${old:0:8}" --wait --format json --timeout 120)
new=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "the retry succeeds"
assert_true "[ '$new' != '$old' ]" "the retry is a new run"
assert_eq "$(wc -l <"$marks/first.count")" 1 "the step that succeeded is not executed again"
assert_eq "$(wc -l <"$marks/second.count")" 2 "the failed step ran again"
assert_eq "$(jq_py "$out" '{s["name"]: (s["status"], s.get("reused_from", "")) for s in d["steps"]}')" \
  "{\"first\": [\"succeeded\", \"$old\"], \"second\": [\"succeeded\", \"\"], \"third\": [\"succeeded\", \"\"]}" \
  "first reused from the old run, second and third ran"
assert_eq "$(json_get "$out" retry_of)" "$old" "the new run names the old one"
assert_eq "$(json_get "$(ctl status "$old" --format json)" retried_by)" "$new" "the old run names the new one"
assert_true "ctl status $new | grep -q \"^retry of   $old\"" "status shows the link"
api=$(curl -fsS "$console/api/runs/$new")
assert_eq "$(jq_py "$api" 'd["run"]["retry_of"]')" "$old" "the console's API shows the link"
assert_eq "$(jq_py "$(curl -fsS "$console/api/runs/$old")" 'd["run"]["retried_by"]')" "$new" "both ways"

# --- delete ----------------------------------------------------------------------------------------
rm -f "$marks/go"
running=$(ctl submit "$work/talk.yaml" --env dev --quiet)
wait_for 30 "[ \"\$(stack_redis_cli HGET acms:run:$running status)\" = running ]" "a run is running"
rc=0; err=$(ctl delete "$running" --format json) || rc=$?
assert_eq "$rc/$(json_get "$err" error.code)" 1/run_active "delete of a running run is refused"
assert_eq "$(stack_redis_cli EXISTS "acms:run:$running")" 1 "and its state stays"
ctl cancel "$running" --wait --quiet >/dev/null || true
assert_eq "$(json_get "$(ctl delete "${old:0:8}" --format json)" deleted)" True "delete of a finished run"
assert_eq "$(stack_redis_cli --scan --pattern "acms:run:$old*")" "" "no key of the deleted run is left"
assert_eq "$(stack_redis_cli EXISTS "acms:feedback:run:$old" "acms:monitor:session:$old")" 0 "nor its feedback and session"
rc=0; err=$(ctl status "$old" --format json) || rc=$?
assert_eq "$rc/$(json_get "$err" error.code)" 1/deleted_run "status says the run was deleted"
assert_eq "$(jq_py "$(ctl list --format json)" '"'"$old"'" in [r["run_id"] for r in d["runs"]]')" False "list no longer shows it"
assert_eq "$(json_get "$(ctl status "$new" --format json)" status)" succeeded "the retry is untouched"
