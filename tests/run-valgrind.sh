#!/usr/bin/env bash
# Runs each cmocka unit test binary given as an argument under valgrind memcheck ($VALGRIND, set by
# `make test-valgrind`: full leak check, definite and indirect leaks are errors, exit 99 on any
# error). A test fails when it fails on its own or when memcheck reports an error or a leak.
set -u
cd "$(dirname "$0")/.." || exit 2
export ACMS_REPO=$PWD
export ACMS_UNDER_VALGRIND=1 # timing checks of the unit tests are skipped under memcheck
vg=${VALGRIND:-valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --child-silent-after-fork=yes}
command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)" >&2; exit 2; }
passed=0 failed=0 failed_names=()
for t in "$@"; do
  name=$(basename "$t")
  start=$(date +%s)
  # shellcheck disable=SC2086 # $vg is a command line
  if out=$($vg "$t" 2>&1); then
    passed=$((passed + 1))
    printf 'PASS %s (%ss)\n' "$name" "$(( $(date +%s) - start ))"
  else
    rc=$?
    failed=$((failed + 1)); failed_names+=("$name")
    printf '%s\n' "$out" | grep -v '^\[ \|^\[=\|^\[-' | head -n 80
    printf 'FAIL %s (exit %s%s)\n' "$name" "$rc" "$([ "$rc" = 99 ] && echo ': memcheck error or leak')"
  fi
done
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { printf 'failed: %s\n' "${failed_names[*]}"; exit 1; }
