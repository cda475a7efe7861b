#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh (or those named in $TESTS) in its own process; each test
# starts and stops its own redis-server and devbroker on free loopback ports. A passing test's stack
# directories are removed; a failing test's are kept (named in the output) for inspection.
set -u
cd "$(dirname "$0")/.."
export ACMS_REPO=$PWD
export BIN=${BIN:-$PWD/bin}
case "$BIN" in /*) ;; *) BIN=$PWD/$BIN ;; esac
passed=0 failed=0 failed_names=()
tests=${TESTS:-$(ls tests/integration/test_*.sh 2>/dev/null)}
for t in $tests; do
  name=$(basename "$t" .sh)
  start=$(date +%s)
  log=$(mktemp /tmp/acms-it-XXXXXX.log)
  ACMS_STACK_DIRS=$(mktemp /tmp/acms-it-dirs-XXXXXX)
  export ACMS_STACK_DIRS
  if timeout "${IT_TIMEOUT:-600}" bash "$t" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf 'PASS %s (%ss)\n' "$name" "$(( $(date +%s) - start ))"
    [ -n "${VERBOSE:-}" ] && cat "$log"
    [ "${KEEP_STACKS:-0}" = 1 ] || xargs -r rm -rf <"$ACMS_STACK_DIRS"
  else
    failed=$((failed + 1)); failed_names+=("$name")
    printf 'FAIL %s (%ss)\n' "$name" "$(( $(date +%s) - start ))"
    tail -n 80 "$log"
    sed 's/^/  kept: /' "$ACMS_STACK_DIRS"
  fi
  rm -f "$log" "$ACMS_STACK_DIRS"
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { printf 'failed: %s\n' "${failed_names[*]}"; exit 1; }
