#!/usr/bin/env bash
# Input-aware sizing on the real stack. A step declares `sizing: {input: ROWS}`; it really allocates
# ROWS / 20000 MiB (acms-stepload, through sh so the need follows the env var). Four runs with
# different ROWS teach the feedback service a fit of peak memory against ROWS (acms:learn:rec: fit
# method input-fit, usable). Then `acmsctl prepare --learned` sizes a run from its own input: ROWS 2M
# gets about twice the memory of ROWS 1M, each record saying what it was based on (LearnedBasis:
# input-fit, the input value, the fit's runs); and a run submitted with ROWS 2.4M, a need never seen,
# is sized from its input (about its need, far below the 400 MiB requested) and succeeds on its first
# attempt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-inputsize-XXXXXX)"
trap stack_stop EXIT
stack_start_all

work=$STACK_DIR/pipeline
mkdir -p "$work"
pipeline=input-size-$$
# pipeline ROWS: the YAML of one run (the need, ROWS / 20000 MiB, travels in NEED_MB)
pipeline_yaml() {
  local rows=$1 need=$(( $1 / 20000 ))
  cat <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: $pipeline, labels: {team: it}}
spec:
  steps:
    - name: load
      type: processing
      command: ["sh", "-c", "exec \"\$0\" --mem-mb \"\$NEED_MB\" --cpu-ms 100 --sleep-ms 300", "$BIN/acms-stepload"]
      env: {ROWS: "$rows", NEED_MB: "$need"}
      sizing: {input: ROWS}
      instance_type: ml.t3.medium
      memory_mb: 400
      max_runtime_s: 60
      output_path: s3://acme-ml/it/load
      tags: {owner: it}
YAML
}

run_once() { # ROWS -> run id (the run succeeded and the feedback service recorded it)
  pipeline_yaml "$1" >"$work/run-$1.yaml"
  local out run
  out=$("$BIN/acmsctl" submit "$work/run-$1.yaml" --env dev --wait --format json --timeout 60)
  run=$(json_get "$out" run_id)
  [ "$(json_get "$out" status)" = succeeded ] || { echo "FAIL: run with ROWS $1: $out" >&2; exit 1; }
  wait_for 30 "[ -n \"\$(stack_redis_cli HGET acms:feedback:run:$run success)\" ]" "feedback recorded ROWS $1" >&2
  echo "$run"
}

for rows in 1000000 1400000 800000 1200000; do
  run_once "$rows" >/dev/null
done
rec=acms:learn:rec:$pipeline:load
assert_eq "$(stack_redis_cli HGET "$rec" fit_method)" input-fit "the fit is against the declared input"
assert_eq "$(stack_redis_cli HGET "$rec" sizing_input)" ROWS "learned against ROWS"
assert_eq "$(stack_redis_cli HGET "$rec" fit_usable)" 1 "the fit is good enough to size from"
assert_true "[[ \"$(stack_redis_cli HGET "$rec" fit_memory)\" == f1\;p=2\;i=1* ]]" "memory fit stored (ln peak ~ ln ROWS)"
obs=$(stack_redis_cli HGET "acms:feedback:stats:$pipeline:load" obs)
assert_eq "$(tr ';' '\n' <<<"$obs" | grep -c ,)" 4 "four runs in the bounded window"

# --- acmsctl prepare --learned: each run sized from its own input ------------------------------------
prep_mb() { # ROWS -> memory the prepared step gets; checks its record's basis
  pipeline_yaml "$1" >"$work/prep-$1.yaml"
  "$BIN/acmsctl" prepare "$work/prep-$1.yaml" --env dev --learned --format json | python3 -c '
import json, sys
rc = json.load(sys.stdin)
rows = float(sys.argv[1])
step = rc["pipeline"]["steps"][0]
assert step["sizing"]["input_value"] == rows, step["sizing"]
recs = [r for r in rc["adaptation_log"] if r.get("stage") == "scaling" and r.get("field") == "resources.memory_mb"]
assert len(recs) == 1 and recs[0].get("applied"), recs
b = recs[0]["learned"]
assert b["method"] == "input-fit" and b["input"] == "ROWS" and b["input_value"] == rows and b["runs"] == 4, b
assert b["upper_mb"] >= b["predicted_mb"] > 0 and b["margin"] > 0 and "sized from its input ROWS" in recs[0]["reason"], b
print(step["resources"]["memory_mb"])' "$1"
}
mb1=$(prep_mb 1000000)
mb2=$(prep_mb 2000000)
echo "prepare --learned: ROWS 1M -> $mb1 MiB, ROWS 2M -> $mb2 MiB"
assert_true "[ $mb1 -ge 51 ] && [ $mb1 -le 70 ]" "ROWS 1M (need 50 MiB) sized $mb1 MiB"
assert_true "[ $(( mb2 * 100 / mb1 )) -ge 170 ] && [ $(( mb2 * 100 / mb1 )) -le 230 ]" "twice the input, about twice the memory"
"$BIN/acmsctl" prepare "$work/prep-1000000.yaml" --env dev --learned | grep -q 'based on: input-fit, 4 run(s), ROWS = 1e+06'
echo "ok: acmsctl prepare --learned explains the size"

# --- a run with an input never seen: sized from it, succeeds at once ---------------------------------------
run=$(run_once 2400000)
step_field() { stack_redis_cli HGET "acms:run:$run:step:load" "$1"; }
mem=$(step_field memory_mb)
peak_mb=$(( $(step_field peak_rss_kb) / 1024 ))
echo "ROWS 2.4M: limit $mem MiB, peak $peak_mb MiB"
assert_eq "$(step_field attempt)" 1 "no retry"
assert_true "[ $peak_mb -ge 120 ] && [ $mem -gt $peak_mb ] && [ $mem -le 160 ]" "sized near its 120 MiB need, not 400"
basis=$("$BIN/acmsctl" status "$run" --format json | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("adaptations", []):
    if r.get("stage") == "scaling" and r.get("field") == "resources.memory_mb":
        print(r.get("learned", {}).get("method", ""), r.get("learned", {}).get("input_value", ""))')
assert_eq "$basis" "input-fit 2400000" "the run's record: input-fit at its own ROWS"
