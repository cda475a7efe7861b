#!/usr/bin/env bash
# The learning loop on the real stack. A step needs 150 MiB but requests memory_mb 100. Run 1: its
# first attempt is killed for memory and the coordinator's recovery retries it with more memory; the
# feedback service learns a lasting bump (max(peak + 100 MiB, peak x 1.2) of the peak at the kill).
# Run 2 of the same pipeline: the adapter's scaler applies the learned memory ("learned" in the
# capacity plan, a scaling record naming its basis) and the step succeeds on attempt 1, no retry.
# Fix statistics on the way: run 1 lacks the owner tag (policy warning POL-OWNER-TAG with its
# suggestion), run 2 has it, so the suggestion is credited as resolved and run 2's ExecutionFeedback
# carries a fix_effective insight.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-learn-XXXXXX)"
trap stack_stop EXIT
# no runtime memory_up here (test_memory_up_live has it): a live raise could rescue the attempt this
# test needs to see killed, depending on timing
export ACMS_SAFETY_THRESHOLD=1
stack_start_all

work=$STACK_DIR/pipeline
mkdir -p "$work"
pipeline=learn-rightsize-$$
cat >"$work/hungry.yaml" <<YAML
apiVersion: acms/v1
kind: Pipeline
metadata: {name: $pipeline, labels: {team: it}}
spec:
  steps:
    - name: hungry
      type: processing
      command: ["$BIN/acms-stepload", "--mem-mb", "150", "--cpu-ms", "100"]
      instance_type: ml.t3.medium
      memory_mb: 100
      max_runtime_s: 60
      output_path: s3://acme-ml/it/hungry
YAML
# run 2: the same step, with the owner tag the policy asked for (the command, what learning keys on,
# is unchanged)
sed 's|^      output_path: s3://acme-ml/it/hungry$|&\n      tags: {owner: it}|' "$work/hungry.yaml" >"$work/hungry-tagged.yaml"
grep -q 'tags: {owner: it}' "$work/hungry-tagged.yaml"

step_field() { stack_redis_cli HGET "acms:run:$1:step:hungry" "$2"; }

# --- run 1: killed for memory, recovered by a retry ----------------------------------------------
out=$("$BIN/acmsctl" submit "$work/hungry.yaml" --env dev --wait --format json --timeout 60)
run1=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run 1 succeeds (after recovery)"
attempts1=$(step_field "$run1" attempts)
assert_true "[ $(step_field "$run1" attempt) -ge 2 ]" "run 1 needed a retry"
assert_eq "$(json_get "$attempts1" 0.reason)" MEMORY "run 1 attempt 1 killed for memory"
kill_limit=$(json_get "$attempts1" 0.memory_mb)
kill_peak_kb=$(json_get "$attempts1" 0.peak_rss_kb)
assert_eq "$kill_limit" 100 "run 1 attempt 1 ran with the requested 100 MiB"
# the bump rule (learn.h) on the peak at the kill (at least the limit the kernel stopped it at)
bump=$(python3 -c 'import math,sys
p=max(int(sys.argv[1])/1024.0, float(sys.argv[2]))
print(math.ceil(max(p+100, p*1.2)))' "$kill_peak_kb" "$kill_limit")

# the feedback service learns from run 1 before run 2 is prepared
rec=acms:learn:rec:$pipeline:hungry
wait_for 20 "[ -n \"\$(stack_redis_cli HGET acms:feedback:run:$run1 success)\" ]" "feedback recorded run 1"
assert_eq "$(stack_redis_cli HGET "$rec" mode)" apply "recommendation mode (dev applies)"
rec_mb=$(stack_redis_cli HGET "$rec" memory_mb)
assert_true "[ $rec_mb -ge $bump ]" "recommended memory $rec_mb MiB >= bump $bump MiB"
assert_eq "$(stack_redis_cli HGET "acms:feedback:stats:$pipeline:hungry" kills_memory)" 1 "one memory kill in the stats"
assert_true "[ $(stack_redis_cli HGET "acms:feedback:stats:$pipeline:hungry" min_memory_mb) -ge $bump ]" "lasting floor kept"

# --- run 2: sized right from the start, no retry ------------------------------------------------------
out=$("$BIN/acmsctl" submit "$work/hungry-tagged.yaml" --env dev --wait --format json --timeout 60)
run2=$(json_get "$out" run_id)
assert_eq "$(json_get "$out" status)" succeeded "run 2 succeeds"
assert_eq "$(step_field "$run2" attempt)" 1 "run 2 ran the step once (no retry)"
assert_eq "$(json_get "$(step_field "$run2" attempts)" 0.reason)" OK "run 2 attempt 1 ok"
mem2=$(step_field "$run2" memory_mb)
assert_true "[ $mem2 -ge $bump ] && [ $mem2 -ge 150 ]" "run 2 memory $mem2 MiB >= bump $bump MiB and the need"
assert_true "[ $(( $(step_field "$run2" peak_rss_kb) / 1024 )) -ge 150 ]" "run 2 really used its 150 MiB"
# the scaler's record says where the number came from
learned=$("$BIN/acmsctl" status "$run2" --format json |
  python3 -c 'import json,sys
n=0
for r in json.load(sys.stdin).get("adaptations", []):
    if r.get("stage")=="scaling" and r.get("field")=="resources.memory_mb" and r.get("applied") and "learned from" in r.get("reason",""):
        n+=1
print(n)')
assert_eq "$learned" 1 "a scaling record: memory right-sized from what was learned"
runtime=$(stack_redis_cli GET "acms:run:$run2:runtime" | wc -c)
assert_true "[ $runtime -gt 0 ]" "runtime configuration stored"
# feedback for run 2: no kill, one ExecutionFeedback per run on acms.feedback.insights
wait_for 20 "[ -n \"\$(stack_redis_cli HGET acms:feedback:run:$run2 success)\" ]" "feedback recorded run 2"
assert_eq "$(stack_redis_cli HGET "acms:feedback:run:$run2" resource_kills)" 0 "run 2: no resource kill"
assert_eq "$(topic_count_key acms.feedback.insights "$run1")" 1 "one ExecutionFeedback for run 1"
assert_eq "$(topic_count_key acms.feedback.insights "$run2")" 1 "one ExecutionFeedback for run 2"
# fix statistics: the owner-tag suggestion offered in run 1 resolved the warning by run 2
fix=acms:learn:fix:POL-OWNER-TAG
assert_eq "$(stack_redis_cli HGET "$fix" POL-OWNER-TAG:policy-fix:offered)" 1 "owner-tag suggestion offered once"
assert_eq "$(stack_redis_cli HGET "$fix" POL-OWNER-TAG:policy-fix:resolved)" 1 "owner-tag suggestion credited as resolved"
kinds=$(kcat -b "$ACMS_KAFKA_BROKERS" -C -t acms.feedback.insights -e -o beginning -q -J 2>/dev/null |
  python3 -c 'import json,sys
k=set()
for l in sys.stdin:
    m=json.loads(l)
    if m.get("key")==sys.argv[1]:
        p=m.get("payload") or ""
        k|={x for x in ("fix_effective","right_size_memory","memory_bump") if x in p}
print(" ".join(sorted(k)))' "$run2")
assert_true "[[ \" $kinds \" == *' fix_effective '* ]]" "run 2's ExecutionFeedback has a fix_effective insight ($kinds)"
kinds1=$(kcat -b "$ACMS_KAFKA_BROKERS" -C -t acms.feedback.insights -e -o beginning -q -J 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("key")==sys.argv[1] and "memory_bump" in (m.get("payload") or ""): print("memory_bump")' "$run1")
assert_eq "$kinds1" memory_bump "run 1's ExecutionFeedback explains the bump"
echo "learning: run 1 killed at $kill_limit MiB and retried; run 2 ran once with $mem2 MiB (bump $bump MiB)"
