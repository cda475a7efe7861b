#!/usr/bin/env bash
# tools/buf/check.sh: the checks of proto/, the public contract (`make proto-check`):
#   buf lint                       proto/buf.yaml: the STANDARD rules
#   buf breaking (FILE rules)      against proto/schema-v1.binpb, the image of the last released
#                                  schema: a renumbered, retyped, renamed or deleted field, message,
#                                  enum value or file fails (wire format AND generated code of others)
# The buf CLI comes from npm (@bufbuild/buf, pinned by package.json/package-lock.json beside this
# file) into tools/buf/node_modules, installed on first use with `npm ci`.
# Usage: tools/buf/check.sh               lint + breaking
#        tools/buf/check.sh --update-baseline   after a release: rewrite proto/schema-v1.binpb
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
buf=$here/node_modules/.bin/buf
baseline=$root/proto/schema-v1.binpb

if [ ! -x "$buf" ] || ! "$buf" --version >/dev/null 2>&1; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "proto-check: npm is required to install buf (Debian: apt-get install npm)" >&2
    exit 2
  fi
  echo "proto-check: installing buf from npm into tools/buf/node_modules"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "proto-check: buf $("$buf" --version)"

cd "$root/proto"
case "${1:-}" in
  --update-baseline)
    "$buf" build --exclude-source-info -o "$baseline"
    echo "proto-check: wrote ${baseline#"$root"/}"
    exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--update-baseline]" >&2; exit 2 ;;
esac

fails=0
if "$buf" lint; then echo "PASS  buf lint proto/ (STANDARD)"; else echo "FAIL  buf lint proto/"; fails=$((fails + 1)); fi
if [ ! -f "$baseline" ]; then
  echo "FAIL  ${baseline#"$root"/} missing (tools/buf/check.sh --update-baseline at a release)"
  fails=$((fails + 1))
elif "$buf" breaking --against "$baseline"; then
  echo "PASS  buf breaking proto/ against ${baseline#"$root"/} (FILE)"
else
  echo "FAIL  buf breaking: proto/ is not compatible with ${baseline#"$root"/}"
  fails=$((fails + 1))
fi
[ "$fails" -eq 0 ]
