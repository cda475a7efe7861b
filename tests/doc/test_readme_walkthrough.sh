#!/usr/bin/env bash
# test_readme_walkthrough: README's "Using it" block, run the way a reader runs it. The block after the
# marker `<!-- walkthrough: ... -->` is extracted and its lines run in order, in one bash (variables
# carry over, as in a terminal), from a fresh copy of the repository (its tracked files, as a clone
# has them: no build, no run/), with a clean environment and an empty home directory. The first
# command that exits non-zero fails the test and is named. Afterwards: the walkthrough's own outcomes
# are checked (runs succeeded and cancelled, a step's output, the state kept by `make down`).
# `make test-doc` runs it; CI too. Variables: WALKTHROUGH_KEEP=1 keeps the copy.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$here/../.." && pwd)
source "$REPO/tests/lib/assert.sh"

work=$(mktemp -d /tmp/acms-walkthrough-XXXXXX)
clone=$work/acms
mkdir -p "$clone" "$work/home"
cleanup() {
  [ -x "$clone/tools/stack.sh" ] && (cd "$clone" && WIPE=1 tools/stack.sh down >/dev/null 2>&1)
  if [ "${WALKTHROUGH_KEEP:-0}" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# a fresh clone's files: the tracked ones (with their content in this tree), nothing built or ignored
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf -) | tar -xf - -C "$clone"
assert_true "[ -f '$clone/README.md' ] && [ ! -e '$clone/bin' ] && [ ! -e '$clone/run' ]" "a fresh copy of the repository"

# the block after the marker, up to its closing fence
awk '/<!-- walkthrough:/ {m=1; next} m==1 && /^```sh/ {m=2; next} m==2 && /^```/ {exit} m==2 {print}' \
  "$clone/README.md" >"$work/block.sh"
n=$(grep -c . "$work/block.sh" || true)
assert_true "[ '$n' -ge 10 ]" "README's walkthrough block found ($n lines)"
assert_true "grep -q '^make up' '$work/block.sh' && grep -q '^make down' '$work/block.sh'" "the block starts and stops the stack"

# one script: each line echoed, then run; the first failure stops it and names the line
{
  echo 'set -eo pipefail'
  echo "cd $(printf '%q' "$clone")"
  i=0
  while IFS= read -r line; do
    i=$((i + 1))
    [ -n "$line" ] || continue
    printf 'walkthrough_line=%d; printf "+ %%s\\n" %q\n' "$i" "$line"
    printf '%s\n' "$line"
  done <"$work/block.sh"
  echo 'echo "walkthrough: all commands exited 0"'
} >"$work/run.sh"

start=$(date +%s)
env -i PATH="$PATH" HOME="$work/home" LANG=C.UTF-8 USER="${USER:-root}" TERM=dumb \
  bash -c "trap 'echo \"walkthrough: line \$walkthrough_line failed (exit \$?)\" >&2' ERR; source '$work/run.sh'" \
  >"$work/out.log" 2>&1
rc=$?
echo "walkthrough: exit $rc after $(( $(date +%s) - start )) s (output: $work/out.log)"
if [ "$rc" -ne 0 ]; then
  tail -n 60 "$work/out.log"
  WALKTHROUGH_KEEP=1
fi
assert_eq "$rc" 0 "README's walkthrough runs as written"
grep '^+ ' "$work/out.log" | sed 's/^/  /'

# what the walkthrough showed the reader
assert_true "grep -q 'VALID (0 errors' '$work/out.log'" "validate said VALID"
assert_true "grep -q 'secrets:   1 from' '$work/out.log'" "make up read run/secrets.env"
assert_true "grep -q 'status     succeeded' '$work/out.log'" "a submitted run succeeded"
assert_true "grep -q '\"status\":.*\"succeeded\"' '$work/out.log'" "status by prefix printed the run as JSON"
assert_true "grep -q 'extracting 1000 rows' '$work/out.log' && grep -q 'db credentials present' '$work/out.log'" \
  "the step's stdout.log holds what it printed, with its secret resolved"
assert_true "grep -q 'status     cancelled' '$work/out.log'" "the long run was cancelled"
assert_true "grep -q '^churn-training@1' '$work/out.log'" "config put printed the stored version"
assert_true "! grep -q 'not-a-real-password' '$clone'/run/*.log" "the secret value is in no service log"

# make down kept the state: a new stack shows the runs and the stored version again
(cd "$clone" && env -i PATH="$PATH" HOME="$work/home" LANG=C.UTF-8 make up >"$work/up2.log" 2>&1)
assert_eq "$?" 0 "make up again after make down"
(cd /tmp && env -i PATH="$PATH" HOME="$work/home" "$clone/bin/acmsctl" config list >"$work/list.out" 2>&1)
assert_true "grep -q '^churn-training' '$work/list.out'" "the stored version survived make down / make up (acmsctl run from /tmp)"
echo "PASS test_readme_walkthrough"
