#!/usr/bin/env python3
"""hops.py DIR: the first hops of back-to-back runs (bench/run.sh's `hops` section).

DIR holds runs.txt (one run id a line), r.<i>.json (`acmsctl submit --wait --format json`, i from 1)
and the stack's adapter-*.log. For each run: submit -> adapter (the adapter's "prepared" log line,
minus the run's submitted_ms, which acmsctl writes just before it makes its bus client and publishes) and submit -> coordinator
(started_ms minus submitted_ms). Prints one JSON object: n, p50/p99/max of each, and how many runs
took over 500 ms to reach the adapter (the one-second stalls bench/README.md tells of)."""
import datetime
import glob
import json
import os
import sys


def adapter_times(d):
    seen = {}
    for f in glob.glob(os.path.join(d, "adapter-*.log")):
        with open(f, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if j.get("run_id") and str(j.get("msg", "")).startswith("prepared "):
                    ts = datetime.datetime.strptime(j["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
                    ms = ts.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
                    seen.setdefault(j["run_id"], ms)
    return seen


def pct(v, p):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(round(p * (len(v) - 1))))], 1) if v else None


def main():
    d = sys.argv[1]
    seen = adapter_times(d)
    to_adapter, to_coord, failed = [], [], 0
    with open(os.path.join(d, "runs.txt"), encoding="utf-8") as fh:
        ids = [line.strip() for line in fh]
    for i, rid in enumerate(ids, 1):
        try:
            with open(os.path.join(d, "r.%d.json" % i), encoding="utf-8") as fh:
                r = json.load(fh)
            sub, started = float(r["submitted_ms"]), float(r["started_ms"])
        except (OSError, ValueError, KeyError):
            failed += 1
            continue
        if r.get("run_id") in seen:
            to_adapter.append(seen[r["run_id"]] - sub)
        to_coord.append(started - sub)
    out = {"n": len(to_coord), "failed": failed, "stalls_over_500ms": sum(1 for x in to_adapter if x > 500)}
    for name, v in (("adapter", to_adapter), ("coordinator", to_coord)):
        out.update({name + "_p50_ms": pct(v, 0.5), name + "_p99_ms": pct(v, 0.99),
                    name + "_max_ms": round(max(v), 1) if v else None})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
