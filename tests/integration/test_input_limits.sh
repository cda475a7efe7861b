#!/usr/bin/env bash
# The input limits of docs/limits.md hold where input enters, each with a clear error within a
# second (three under a sanitizer build) and never a crash:
#   acmsctl validate: a 5 MB file (file size, 4 MiB), a 100-deep document (nesting, 64), 6,000 steps
#   (steps per pipeline, 5,000), a 70 KB scalar (64 KiB); the limits themselves (64 levels, 5,000
#   steps) still pass the parser.
#   the bus: a ConfigSubmitted whose document nests 20,000 levels in 160 KB (protobuf-c's unpack
#   recursed once a level and overflowed the adapter's stack: the whole service died) and a 1.5 MiB
#   payload (message size, 1 MiB) are dead-lettered with their reason; every service stays up and a
#   pipeline submitted afterwards still succeeds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/stack.sh"
source "$here/../lib/assert.sh"

stack_init "$(mktemp -d /tmp/acms-limits-XXXXXX)"
trap stack_stop EXIT
d=$STACK_DIR/inputs
mkdir -p "$d"
budget_ms=1000
if ldd "$BIN/acmsctl" 2>/dev/null | grep -q -E 'lib(asan|ubsan)'; then budget_ms=3000; fi

py=/usr/bin/python3
$py - "$d" <<'PY'
import sys
d = sys.argv[1]
head = "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: limits}\nspec:\n  steps:\n"
step = '    - {name: s%d, type: processing, command: ["true"], instance_type: ml.t3.medium, output_path: "s3://acme-ml/l/%d"}\n'
# 5 MB: a valid-looking pipeline padded with comments past the 4 MiB file limit
with open(f"{d}/big.yaml", "w") as f:
    f.write(head + step % (0, 0))
    line = "# " + "x" * 97 + "\n"
    f.write(line * (5 * 1024 * 1024 // len(line) + 1))
# nesting: 100 levels in spec.labels-like data, and exactly 64 (the limit) which still parses
def nested(levels):  # the root map, spec, then levels - 2 lists
    return "apiVersion: acms/v1\nkind: Pipeline\nmetadata: {name: deep}\nspec: {steps: [], x: " + "[" * (levels - 2) + "]" * (levels - 2) + "}\n"
open(f"{d}/deep100.yaml", "w").write(nested(100))
open(f"{d}/deep64.yaml", "w").write(nested(64))
# steps: 6,000 (over) and 5,000 (the limit)
for n in (6000, 5000):
    with open(f"{d}/steps{n}.yaml", "w") as f:
        f.write(head + "".join(step % (i, i) for i in range(n)))
# a 70 KB scalar
open(f"{d}/scalar.yaml", "w").write(head + '    - {name: a, command: ["' + "y" * 70000 + '"]}\n')
PY
assert_true "[ \$(stat -c %s '$d/big.yaml') -gt 5000000 ]" "5 MB file written"

check() { # file, expected exit codes (regex), expected text (regex), what
  local f=$1 want=$2 text=$3 what=$4 start ms rc=0 out
  start=$(date +%s%N)
  out=$("$BIN/acmsctl" validate "$d/$f" --env dev 2>&1) || rc=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  assert_true "echo $rc | grep -q -x -E '$want'" "$what: exit $rc"
  assert_true "[ $ms -lt $budget_ms ]" "$what: answered in $ms ms"
  assert_true "echo \"\$out\" | grep -q -E '$text'" "$what: $(echo "$out" | grep -m1 -E "$text" | cut -c1-140)"
}
check big.yaml 2 'big.yaml: file of [0-9]+ bytes exceeds the limit of 4194304 bytes' "file size"
check deep100.yaml 2 'deep100.yaml: line 4, column [0-9]+: nesting deeper than 64 levels' "nesting depth"
check steps6000.yaml 1 'LIMIT_EXCEEDED.*6000 steps exceed the limit of 5000' "steps per pipeline"
check scalar.yaml 2 'scalar of 70000 bytes exceeds the limit of 65536' "scalar size"
# a FIFO (no writer) and a folder: refused at once, never waited on (the answer-time budget applies)
mkfifo "$d/fifo.yaml"
mkdir -p "$d/folder.yaml"
check fifo.yaml 2 'fifo.yaml: not a regular file' "a FIFO as input"
check folder.yaml 2 'folder.yaml: not a regular file' "a folder as input"
# at the limits: the parser accepts them (the verdict is the validator's, not a limit error)
rc=0; out=$("$BIN/acmsctl" validate "$d/deep64.yaml" --env dev 2>&1) || rc=$?
assert_true "! echo \"\$out\" | grep -q 'nesting deeper'" "64 levels parse"
rc=0; out=$("$BIN/acmsctl" validate "$d/steps5000.yaml" --env dev --format json 2>&1) || rc=$?
assert_true "! echo \"\$out\" | grep -q TOO_MANY_STEPS && echo \"\$out\" | grep -q '\"file\"'" "5,000 steps validate (exit $rc)"

# --- the bus -------------------------------------------------------------------------------------
export CHURN_DB_PASSWORD="limits-$RANDOM"
stack_start_all
rc=0; out=$(timeout 20 "$BIN/acmsctl" config put "$d/fifo.yaml" 2>&1) || rc=$?
assert_true "[ $rc -ne 124 ] && echo \"\$out\" | grep -q 'not a regular file'" "config put refuses a FIFO (exit $rc)"
$py - "$d" <<'PY'
import sys
d = sys.argv[1]
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)
def field(num, payload):  # length-delimited field
    return varint(num << 3 | 2) + varint(len(payload)) + payload
meta = field(1, b"limits-deep-1") + field(2, b"limits-deep-run") + bytes([3 << 3]) + varint(1)
value = b""
for _ in range(20000):  # Value{list_value: ListValue{values: [value]}}
    value = field(5, field(1, value))
open(f"{d}/deep.pb", "wb").write(field(1, meta) + field(2, b"dev") + field(3, value))
meta = field(1, b"limits-big-1") + field(2, b"limits-big-run") + bytes([3 << 3]) + varint(1)
# past the consumers' guard (1 MiB - 16 KiB) and within the bus limit a real broker enforces (1 MiB)
open(f"{d}/big.pb", "wb").write(field(1, meta) + field(2, b"dev") + field(4, b"x" * 1040000))
PY
assert_true "[ \$(stat -c %s '$d/deep.pb') -lt 200000 ]" "deep payload is small ($(stat -c %s "$d/deep.pb") bytes)"
kcat -b "$ACMS_KAFKA_BROKERS" -P -t acms.config.submitted -k limits-deep-run "$d/deep.pb"
kcat -b "$ACMS_KAFKA_BROKERS" -X message.max.bytes=1048576 -P -t acms.config.submitted -k limits-big-run "$d/big.pb"
dead() { kcat -b "$ACMS_KAFKA_BROKERS" -C -t acms.deadletter -e -o beginning -q -f '%k %s\n' 2>/dev/null | tr -c '[:print:]\n' '.'; }
wait_for 30 "dead | grep -c 'nesting too deep' >/dev/null" "20,000-level document dead-lettered: nesting too deep"
wait_for 30 "dead | grep -c 'payload too large' >/dev/null" "1,040,000-byte payload dead-lettered: payload too large"
for s in $STACK_SERVICES_ALL; do
  assert_true "[ -n \"\$(stack__pid $s-0)\" ]" "acms-$s still running"
done
out=$("$BIN/acmsctl" submit "$REPO/examples/pipelines/churn-training.yaml" --env dev --wait --format json --timeout 120)
assert_eq "$(json_get "$out" status)" succeeded "a pipeline submitted afterwards succeeds"
echo "limits: file size, nesting, steps, scalar size, message size and message nesting enforced"
