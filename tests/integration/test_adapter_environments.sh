#!/usr/bin/env bash
# The adapter through the bus and offline: preparation is deterministic; the same pipeline prepared
# for dev and for prod differs exactly where the profiles say, and every difference is explained by
# an adaptation record; a secret reference stays a reference on the bus and in Redis while the step
# run by the coordinator receives the value in its environment. Through the bus prod rejects it: prod
# requires enforcement and its encryption policy is one the local executor cannot enforce.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
p=$ACMS_REPO/examples/pipelines/churn-training.yaml

# offline: determinism and explained differences
"$BIN/acmsctl" prepare "$p" --env dev --format json >/tmp/acms-prep-dev1.$$.json
"$BIN/acmsctl" prepare "$p" --env dev --format json >/tmp/acms-prep-dev2.$$.json
"$BIN/acmsctl" prepare "$p" --env prod --format json >/tmp/acms-prep-prod.$$.json
assert_true "cmp -s /tmp/acms-prep-dev1.$$.json /tmp/acms-prep-dev2.$$.json" "prepare is deterministic"
/usr/bin/python3 - /tmp/acms-prep-dev1.$$.json /tmp/acms-prep-prod.$$.json <<'PY'
import json, sys
dev, prod = (json.load(open(f)) for f in sys.argv[1:3])
def flat(o, pre=""):
    if isinstance(o, dict):
        for k, v in o.items(): yield from flat(v, f"{pre}.{k}" if pre else k)
    elif isinstance(o, list) and not all(isinstance(x, (str, int, float)) for x in o):
        for i, v in enumerate(o): yield from flat(v, f"{pre}[{i}]")
    else:
        yield pre, json.dumps(o)
explained = {}
for side in (dev, prod):
    for r in side.get("adaptation_log", []):
        if r.get("applied"):
            explained.setdefault(r.get("step", ""), set()).add(r["field"])
diffs, unexplained = 0, []
for sd, sp in zip(dev["pipeline"]["steps"], prod["pipeline"]["steps"]):
    a, b = dict(flat(sd)), dict(flat(sp))
    for k in sorted(set(a) | set(b)):
        if a.get(k) == b.get(k): continue
        diffs += 1
        field = k.split("[")[0]
        ok = any(field == f or field.startswith(f + ".") or f.startswith(field + ".") or f.startswith(field + "[")
                 or field.startswith(f.split(".")[0]) for f in explained.get(sd["name"], ()))
        if not ok: unexplained.append(f"{sd['name']}.{k}: dev={a.get(k)} prod={b.get(k)}")
print(f"{diffs} step-field differences between dev and prod, {len(unexplained)} unexplained")
for u in unexplained: print("  unexplained:", u)
assert diffs >= 5, "dev and prod should differ (paths, memory, network, encryption)"
assert not unexplained
PY
echo "ok: every dev/prod difference is explained by an adaptation record"
rm -f /tmp/acms-prep-*.$$.json

# through the bus
stack_init "$(mktemp -d /tmp/acms-adapt-XXXXXX)"
trap stack_stop EXIT
export CHURN_DB_PASSWORD="s3cr3t-$RANDOM-$RANDOM-$$"
stack_start_all
for env in dev prod; do
  set +e; out=$("$BIN/acmsctl" submit "$p" --env "$env" --wait --format json --timeout 120); set -e
  run=$(json_get "$out" run_id)
  if [ "$env" = dev ]; then
    assert_eq "$(json_get "$out" status)" succeeded "churn-training run in $env"
  else # prod requires enforcement, and the local executor cannot encrypt volumes (docs/execution.md)
    assert_eq "$(json_get "$out" status)" rejected "churn-training rejected in prod: local executor"
    assert_true "[ \$(topic_count_key acms.validation.results $run) -ge 1 ] && kcat -b \$ACMS_KAFKA_BROKERS -C -t acms.validation.results -e -o beginning -q 2>/dev/null | grep -a -q ENFORCEMENT_GAP" \
      "the rejection names ENFORCEMENT_GAP"
  fi
  eval "run_$env=$run"
  n=$("$BIN/acmsctl" status "$run" --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["adaptations"]))')
  assert_true "[ $n -ge 5 ]" "$env adaptations recorded ($n)"
done
# the prepared configurations on the bus still carry the reference
prepared_text() { kcat -b "$ACMS_KAFKA_BROKERS" -C -t acms.config.prepared -e -o beginning -q 2>/dev/null | tr -c '[:print:]' '\n'; }
wait_for 10 "[ \$(prepared_text | grep -c 'secret://env/CHURN_DB_PASSWORD') -gt 0 ]" "reference kept in acms.config.prepared"
wait_for 10 "[ \$(prepared_text | grep -c 's3://acme-ml-dev/churn') -gt 0 ] && [ \$(prepared_text | grep -c 's3://acme-ml-prod/churn') -gt 0 ]" \
  "dev and prod storage paths rewritten on the bus"
# the step got the value: its captured stdout says so, and it never printed the value
log=$(find "$STACK_DIR/work/$run_dev" -path '*extract*' -name 'stdout*' | head -1)
assert_true "[ -n \"$log\" ] && grep -q 'db credentials present' \"$log\"" "extract received DB_PASSWORD"
assert_no_secret "$CHURN_DB_PASSWORD"
echo "adapter: deterministic, dev/prod differences explained, secret stays a reference"
