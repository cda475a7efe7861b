#!/usr/bin/env bash
# test_check_shape.sh: tools/check_shape.py on made-up trees: braces inside strings, character
# literals, comments and macros count for nothing; an 81-line function and a 200-line main.c are
# reported with file:line and length (exit 1); an 80-line function and a 199-line main.c pass.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# body LINES: a function of exactly LINES lines (head, braces and LINES - 3 statements)
body() {
    printf 'static int\nf_%s(const char *s)\n{\n' "$1"
    for ((i = 0; i < $1 - 4; i++)); do printf '    (void)s;\n'; done
    printf '}\n'
}
mkdir -p "$T/services/svc" "$T/common"
{
    printf '/* tricky: { in a comment\n   and another */\n#define OPEN {\n#define CLOSE(x) \\\n    } x\n'
    printf 'static const char *k = "}}{{\\"}";\nstatic const char c = '"'"'}'"'"';\n'
    printf 'struct s { int a; };\nstatic const struct s k_v[] = {{1}, {2}};\n'
    body 80
    printf 'static int g(void) { return '"'"'{'"'"'; } // {\n'
    body 81
} > "$T/common/tricky.c"
for ((i = 0; i < 199; i++)); do echo "/* $i */"; done > "$T/services/svc/main.c"
cd "$T" || exit 2

out=$(python3 "$ROOT/tools/check_shape.py" services common); rc=$?
[ $rc -eq 1 ] || fail "exit $rc, expected 1: $out"
line81=$(grep -n '^f_81(' common/tricky.c | cut -d: -f1)
grep -q "^common/tricky.c:$((line81 - 1)): function f_81 is 81 lines" <<<"$out" || fail "81-line function not reported: $out"
grep -q "f_80\|function g " <<<"$out" && fail "a function within the limit reported: $out"
grep -q "main.c" <<<"$out" && fail "a 199-line main.c reported: $out"

echo "/* one more */" >> services/svc/main.c
out=$(python3 "$ROOT/tools/check_shape.py"); rc=$?
grep -q "^services/svc/main.c:1: main.c is 200 lines" <<<"$out" || fail "200-line main.c not reported: $out"

sed -i '/^f_81(/,$d' common/tricky.c && sed -i '$d' common/tricky.c && sed -i '$d' services/svc/main.c
out=$(python3 "$ROOT/tools/check_shape.py"); rc=$?
[ $rc -eq 0 ] || fail "exit $rc on a clean tree: $out"
echo "PASS test_check_shape"
