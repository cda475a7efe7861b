#!/usr/bin/env bash
# check.sh (make bench-check): checks bench/run.sh's arithmetic and figure list (bench/lib.sh) on
# fixed inputs, then the shape of the given results files: every figure names its bus, has ours, a
# baseline, a ratio equal to ours / baseline, a goal or none, a met that follows from them, and comes
# from at least 3 rounds. Times nothing and runs nothing on a bus: it cannot flake.
#   bash bench/check.sh [bench/results/bench.json ...]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib.sh
source "$REPO/bench/lib.sh"
FAILS=0

expect() { # expect WHAT GOT WANT
  if [ "$2" != "$3" ]; then echo "bench-check: $1: got '$2', want '$3'" >&2; FAILS=$((FAILS + 1)); fi
}

expect "median of 3" "$(bench_median 3 1 2)" 2
expect "median of 4" "$(bench_median 4 1 3 2)" 2.5
expect "median skips null and None" "$(bench_median 5 null None "" 7 6)" 6
expect "median sorts numerically" "$(bench_median 10 9 100)" 10
expect "median of nothing" "$(bench_median)" null
expect "median of nulls" "$(bench_median null None)" null
expect "max" "$(bench_max 2.5 null 11 3)" 11
expect "max of nothing" "$(bench_max)" null
expect "ratio" "$(bench_ratio 1 4)" 0.250
expect "ratio digits" "$(bench_ratio 2 3 2)" 0.67
expect "ratio by zero" "$(bench_ratio 1 0)" null
expect "ratio of null" "$(bench_ratio null 3)" null
expect "ratio to null" "$(bench_ratio 3 null)" null
expect "met ratio_max" "$(bench_met ratio_max 3.0 90 3.000)" true
expect "met ratio_max over" "$(bench_met ratio_max 3.0 90 3.001)" false
expect "met ratio_min" "$(bench_met ratio_min 0.5 100 0.5)" true
expect "met ratio_min under" "$(bench_met ratio_min 0.5 100 0.499)" false
expect "met max" "$(bench_met max 32 31.9 null)" true
expect "met max over" "$(bench_met max 32 33.7 1.1)" false
expect "met without a goal" "$(bench_met none 0 5 1)" null
expect "met unmeasured" "$(bench_met ratio_max 2.0 null null)" null

BENCH_FIGS=() BENCH_ROWS=()
bench_fig lat_p99 kafka "latency p99" ms 51.2 25.6 "2 forwarders" ratio_max 3.0 3
bench_fig tp_adapter devbroker "adapter throughput" "events/s" null 1000 "null forwarder" ratio_min 0.5 3
expect "figures recorded" "${#BENCH_FIGS[@]} ${#BENCH_ROWS[@]}" "2 2"
expect "figure JSON" "$(printf '[%s]' "$(bench_figs_json)" | python3 -c 'import json,sys
f=json.load(sys.stdin); print(f[0]["bus"], f[0]["ratio"], f[0]["met"], f[0]["goal"]["value"], f[1]["ratio"], f[1]["met"])')" \
  "kafka 2.0 True 3.0 None None"
expect "table row" "$(bench_table | awk 'NR == 2 {print $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12}')" \
  "latency p99 (ms) kafka 51.2 25.6 2 forwarders 2.000 <= 3.0x true"

for f in "$@"; do
  [ -f "$f" ] || { echo "bench-check: $f: no such file" >&2; FAILS=$((FAILS + 1)); continue; }
  python3 - "$f" <<'EOF' || FAILS=$((FAILS + 1))
import json, sys
path = sys.argv[1]
d = json.load(open(path))
bad = []
figs = d.get("figures")
if not isinstance(figs, list) or not figs:
    bad.append("no figures list")
for f in figs or []:
    k = f.get("key", "?")
    for field in ("figure", "unit", "bus", "ours", "baseline", "baseline_name", "ratio", "goal", "met", "rounds"):
        if field not in f:
            bad.append("%s: no %s" % (k, field))
    if bad:
        continue
    if f["bus"] not in ("devbroker", "kafka", "mock", "none"):
        bad.append("%s: bus %r" % (k, f["bus"]))
    if f["bus"] in ("devbroker", "kafka") and f["bus"] != d.get("bus"):
        bad.append("%s: bus %s in a %s file" % (k, f["bus"], d.get("bus")))
    if f["rounds"] < 3:
        bad.append("%s: %s rounds (at least 3)" % (k, f["rounds"]))
    o, b, r = f["ours"], f["baseline"], f["ratio"]
    if o is not None and b:
        if r is None or abs(r - o / b) > 0.001 + 0.001 * abs(o / b):
            bad.append("%s: ratio %s is not %s / %s" % (k, r, o, b))
    elif r is not None:
        bad.append("%s: ratio %s without ours and a baseline" % (k, r))
    g = f["goal"]
    if g is None:
        if f["met"] is not None:
            bad.append("%s: met without a goal" % k)
    else:
        v = r if g["kind"].startswith("ratio") else o
        want = None if v is None else (v >= g["value"] if g["kind"] == "ratio_min" else v <= g["value"])
        if f["met"] != want:
            bad.append("%s: met %s, want %s" % (k, f["met"], want))
for b in bad:
    print("bench-check: %s: %s" % (path, b), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
done
if [ "$FAILS" != 0 ]; then echo "bench-check: $FAILS failed" >&2; exit 1; fi
echo "bench-check: ok"
