#!/usr/bin/env bash
# Runs each cmocka unit test binary given as an argument; prints a closing summary line.
set -u
cd "$(dirname "$0")/.."
export ACMS_REPO=$PWD
passed=0 failed=0 failed_names=()
for t in "$@"; do
  name=$(basename "$t")
  if out=$("$t" 2>&1); then
    passed=$((passed + 1))
    [ -n "${VERBOSE:-}" ] && printf '%s\n' "$out"
    printf 'PASS %s\n' "$name"
  else
    failed=$((failed + 1)); failed_names+=("$name")
    printf '%s\n' "$out"
    printf 'FAIL %s\n' "$name"
  fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { printf 'failed: %s\n' "${failed_names[*]}"; exit 1; }
