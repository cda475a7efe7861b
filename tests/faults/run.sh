#!/usr/bin/env bash
# Runs the fault scenarios (tests/faults/test_faults_*.sh, or those named in $FAULTS_TESTS, e.g.
# FAULTS_TESTS="kafka redis") one after another, each on its own stack, and prints the summary
# table of docs/reliability.md: scenario | submitted | terminal | lost | duplicated | seconds.
# FAULTS_RUNS (default 200) runs per scenario; FAULTS_TIMEOUT (s, default 900) per scenario.
# Exit status 1 when any scenario lost or duplicated something (or failed to run).
set -u
cd "$(dirname "$0")/../.." || exit 2
export ACMS_REPO=$PWD
export BIN=${BIN:-$PWD/bin}
case "$BIN" in /*) ;; *) BIN=$PWD/$BIN ;; esac
export FAULTS_RUNS=${FAULTS_RUNS:-200}
order="kill_services kafka redis poison duplicate coordinator_crash replica_kill"
if [ -n "${FAULTS_TESTS:-}" ]; then
  order=""
  for t in $FAULTS_TESTS; do order="$order ${t#test_faults_}"; done
fi
summary=$(mktemp /tmp/acms-faults-summary-XXXXXX)
export FAULTS_SUMMARY=$summary
failed=() start_all=$(date +%s)
for t in $order; do
  script=tests/faults/test_faults_${t%.sh}.sh
  [ -f "$script" ] || { echo "no such scenario: $script" >&2; failed+=("$t"); continue; }
  log=$(mktemp /tmp/acms-faults-XXXXXX.log)
  ACMS_STACK_DIRS=$(mktemp /tmp/acms-faults-dirs-XXXXXX)
  export ACMS_STACK_DIRS
  start=$(date +%s)
  rows=$(wc -l <"$summary")
  echo "=== $t"
  if timeout "${FAULTS_TIMEOUT:-900}" bash "$script" >"$log" 2>&1; then
    grep -E '^(faults\[|LOST|DUPLICATED|note|counters|executions|deadletters|submitted=|FAIL)' "$log"
    echo "PASS $t ($(( $(date +%s) - start ))s)"
    [ "${KEEP_STACKS:-0}" = 1 ] || xargs -r rm -rf <"$ACMS_STACK_DIRS"
  else
    failed+=("$t")
    tail -n 60 "$log"
    echo "FAIL $t ($(( $(date +%s) - start ))s), log $log"
    sed 's/^/  kept: /' "$ACMS_STACK_DIRS"
    [ "$(wc -l <"$summary")" -gt "$rows" ] ||
      printf '%s\t?\t?\t?\t?\t%s\n' "$t" "$(( $(date +%s) - start ))" >>"$summary"
    rm -f "$ACMS_STACK_DIRS"; continue
  fi
  rm -f "$log" "$ACMS_STACK_DIRS"
done
echo
echo "| scenario | submitted | terminal | lost | duplicated | seconds |"
echo "|---|---:|---:|---:|---:|---:|"
awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}' "$summary"
echo
echo "faults: ${#failed[@]} failed, $(( $(date +%s) - start_all )) s in all"
rm -f "$summary"
[ "${#failed[@]}" -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
