#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh (or those named in $TESTS) in its own process; each test
# starts and stops its own redis-server and devbroker on free loopback ports.
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
  if timeout "${IT_TIMEOUT:-600}" bash "$t" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf 'PASS %s (%ss)\n' "$name" "$(( $(date +%s) - start ))"
    [ -n "${VERBOSE:-}" ] && cat "$log"
  else
    failed=$((failed + 1)); failed_names+=("$name")
    printf 'FAIL %s (%ss)\n' "$name" "$(( $(date +%s) - start ))"
    tail -n 80 "$log"
  fi
  rm -f "$log"
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { printf 'failed: %s\n' "${failed_names[*]}"; exit 1; }
