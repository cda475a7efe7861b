#!/usr/bin/env bash
# acmsctl validate on pipelines written here (never seen by the unit tests): the right verdict and
# exit code, the offending file:line named, a fix suggested; hostile input gets a clear error within a
# second; and through the bus an invalid pipeline is rejected with its issues on acms.validation.results.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"
d=$(mktemp -d /tmp/acms-val-XXXXXX)
stack_init "$d/stack"
trap 'stack_stop; rm -rf "$d"' EXIT

step() { # name deps extra-lines
  printf '    - name: %s\n      type: processing\n      command: ["true"]\n      instance_type: ml.m5.large\n' "$1"
  printf '      max_runtime_s: 600\n      output_path: s3://acme-ml/x/%s\n      tags: {cost-center: cc-9, owner: me}\n' "$1"
  [ -n "$2" ] && printf '      depends_on: [%s]\n' "$2"
  [ -n "${3:-}" ] && printf '%s\n' "$3"
  return 0
}
doc() { printf 'apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: %s, labels: {owner: me}}\nspec:\n  steps:\n' "$1"; }

{ doc good; step a ""; step b a; step c a; step d "b, c"; } >"$d/good.yaml"
{ doc typo; step a ""; printf '      volume_sise_gb: 40\n'; } >"$d/typo.yaml"
{ doc cyc; step a "c"; step b a; step c b; } >"$d/cycle.yaml"
{ doc plain; step a "" '      env: {DB_PASSWORD: "hunter2-is-bad"}'; } >"$d/plain.yaml"
{ doc itype; step a ""; } | sed 's/ml.m5.large/ml.m5.huge/' >"$d/itype.yaml"
{ doc out; step a ""; } | sed 's#s3://acme-ml/#s3://someone-else/#' >"$d/output.yaml"

validate() { set +e; out=$("$BIN/acmsctl" validate "$@" 2>&1); rc=$?; set -e; }
validate "$d/good.yaml" --env staging
assert_eq "$rc" 0 "good pipeline is valid in staging ($out)"
# prod requires enforcement and encrypted volumes, which the local executor cannot give: that gap,
# and nothing else, makes it invalid there
validate "$d/good.yaml" --env prod
assert_eq "$rc" 1 "good pipeline on the local executor is invalid in prod"
assert_eq "$(echo "$out" | grep -c '^.*: error ')" "$(echo "$out" | grep -c ': error ENFORCEMENT_GAP .*encrypt_volume')" \
  "only ENFORCEMENT_GAP errors (encrypt_volume on local)"
assert_true "[ \$(echo \"\$out\" | grep -c ENFORCEMENT_GAP) -eq 4 ]" "one gap per step"
validate "$d/typo.yaml" --env dev
assert_eq "$rc" 1 "typo is invalid"
assert_true "echo \"\$out\" | grep -q \"typo.yaml:13:\"" "typo: names file:line"
assert_true "echo \"\$out\" | grep -q volume_size_gb" "typo: suggests volume_size_gb"
validate "$d/cycle.yaml" --env dev
assert_eq "$rc" 1 "cycle is invalid"
assert_true "echo \"\$out\" | grep -q DAG_CYCLE && echo \"\$out\" | grep -q 'fix ('" "cycle: reported with a fix"
validate "$d/plain.yaml" --env dev
assert_eq "$rc" 1 "plain-text password is invalid"
assert_true "echo \"\$out\" | grep -q PLAINTEXT_CREDENTIAL && echo \"\$out\" | grep -q 'secret://'" "plaintext: suggests a secret reference"
assert_true "! echo \"\$out\" | grep -q hunter2-is-bad" "plaintext value not echoed"
validate "$d/itype.yaml" --env dev
assert_eq "$rc" 1 "unknown instance type is invalid"
assert_true "echo \"\$out\" | grep -q UNKNOWN_INSTANCE_TYPE && echo \"\$out\" | grep -q ml.m5.large" "instance type: did you mean"
validate "$d/output.yaml" --env prod
assert_eq "$rc" 1 "output outside prod's buckets is invalid"
validate "$d/good.yaml" --env staging --format json
assert_eq "$(json_get "$out" valid)" True "json verdict"

# hostile input: a clear error, within a second, never a crash
head -c 200000 /dev/urandom >"$d/binary.yaml"
printf 'apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: "\xff\xfe"}\n' >"$d/utf8.yaml"
/usr/bin/python3 -c 'print("a: " + "[" * 5000 + "]" * 5000)' >"$d/deep.yaml"
/usr/bin/python3 -c 'print("apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: big}\nspec: {steps: [{name: a, command: [\"" + "x" * 2000000 + "\"]}]}")' >"$d/hugestring.yaml"
/usr/bin/python3 -c '
print("apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: many}\nspec:\n  steps:")
for i in range(6000): print(f"    - {{name: s{i}, command: [\"true\"]}}")' >"$d/many.yaml"
for f in binary utf8 deep hugestring many; do
  start=$(date +%s%N)
  validate "$d/$f.yaml" --env dev
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  assert_true "[ $rc -eq 1 ] || [ $rc -eq 2 ]" "$f: refused with exit $rc"
  assert_true "[ $ms -lt 1000 ]" "$f: answered in $ms ms"
  assert_true "echo \"\$out\" | grep -qi -E 'line|limit|too|invalid|error|depth|steps'" "$f: clear message: $(echo "$out" | head -1 | cut -c1-120)"
done

# through the bus: rejected, with the issues on acms.validation.results
stack_start_all
set +e; out=$("$BIN/acmsctl" submit "$d/cycle.yaml" --env dev --wait --format json --timeout 60); rc=$?; set -e
assert_eq "$rc" 1 "invalid run exits 1"
run=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" rejected "run rejected"
assert_true "[ -n \"\$(json_get '$out' reason)\" ]" "rejection reason: $(json_get "$out" reason)"
assert_true "[ \$(kcat -b \$ACMS_KAFKA_BROKERS -C -t acms.validation.results -e -o beginning -q 2>/dev/null | grep -a -c DAG_CYCLE) -gt 0 ]" \
  "DAG_CYCLE on acms.validation.results"
assert_eq "$(topic_count_key acms.config.validated "$run")" 0 "nothing validated for execution"
out=$("$BIN/acmsctl" submit "$d/good.yaml" --env staging --wait --format json --timeout 60)
assert_eq "$(json_get "$out" status)" succeeded "a valid pipeline still runs"
echo "validator: verdicts, places and fixes on unseen pipelines; hostile input refused fast; rejection through the bus"
