#!/usr/bin/env bash
# test_assert_lib.sh: tests/lib/assert.sh's conditions judge what they test, not how the pipe's
# writer ended. `PRODUCER | grep -q X` stops reading at the first match; a producer that is still
# writing then dies of SIGPIPE (141) and, under pipefail, a condition that holds would read as
# false. seq writes ~590 KB, far more than a pipe holds, so its SIGPIPE is certain, not timed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/assert.sh
source "$ROOT/tests/lib/assert.sh"

assert_true "seq 1 100000 | grep -q '^1\$'" "a match early in a long output holds under pipefail"
wait_for 5 "seq 1 100000 | grep -q '^2\$'" "wait_for: an early match in a long output holds under pipefail"
if (assert_true "seq 1 100000 | grep -q '^x\$'" "no match" >/dev/null 2>&1); then
  echo "FAIL: a condition that does not hold passed" >&2; exit 1
fi
echo "ok: a condition that does not hold fails"
[[ -o pipefail ]] || { echo "FAIL: assert_true left pipefail off" >&2; exit 1; }
echo "ok: pipefail is kept for the caller"
