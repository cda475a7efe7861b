#!/usr/bin/env python3
"""hops.py DIR [PREFIX]: where the time of `acmsctl submit --wait` goes, hop by hop (bench/run.sh's
`hops` and `dag` sections).

DIR holds PREFIX.<i>.json (`acmsctl submit --wait --format json`, i from 1; PREFIX defaults to r),
optionally PREFIX.<i>.t ("T0 T1": the wall clock in ms just before acmsctl started and just after it
returned), and the stack's adapter-*.log, validator-*.log. Every time is a wall-clock millisecond on
this machine: the run record's submitted_ms (written by acmsctl just before it makes its bus client
and publishes), the adapter's "prepared" log line, the validator's verdict line, started_ms (the
coordinator took the run), the steps' attempt_started_ms and finished_ms, updated_ms (the terminal
status write, the last write of the run's status) and T1. Per run, the segments between them:

  ctl_start       T0 -> submitted_ms: acmsctl starts, parses the file, writes the run record
  to_adapter      -> adapter prepared: publish, hop 1, the adapter's preparation
  to_validator    -> validator verdict: hop 2, the validator's levels
  to_coordinator  -> started_ms: hop 3, the coordinator's decode and run record
  to_first_step   -> first step started: plan, admission, first claims
  steps           -> last step finished
  to_terminal     -> terminal status written: result, its flush, the terminal write
  to_return       -> T1: acmsctl learns the end, reads the view, prints it, exits
  outside         wall (T1 - T0) minus the coordinator's run (finished_ms - started_ms)

Prints one JSON object: n, failed, p50/p99/max of submit -> adapter and submit -> coordinator (as
before), how many runs took over 500 ms to reach the adapter, and <segment>_p50_ms/_p99_ms for each
segment above whose times were found."""
import datetime
import glob
import json
import os
import re
import sys

SEGMENTS = ("ctl_start", "to_adapter", "to_validator", "to_coordinator", "to_first_step", "steps",
            "to_terminal", "to_return", "outside")


def log_times(d, pattern, wanted):
    """run id -> the wall ms of the first log line (in files matching pattern) that wanted(msg) accepts."""
    seen = {}
    for f in glob.glob(os.path.join(d, pattern)):
        with open(f, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if j.get("run_id") and wanted(str(j.get("msg", ""))):
                    ts = datetime.datetime.strptime(j["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
                    ms = ts.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
                    seen.setdefault(j["run_id"], ms)
    return seen


def pct(v, p):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(round(p * (len(v) - 1))))], 1) if v else None


def num(r, k):
    try:
        return float(r[k])
    except (KeyError, TypeError, ValueError):
        return None


def diff(a, b):
    return b - a if a is not None and b is not None else None


def run_segments(r, t, adapter, validator):
    """The segments of one run (None where a time is missing)."""
    rid = r.get("run_id")
    sub, started, fin, upd = (num(r, k) for k in ("submitted_ms", "started_ms", "finished_ms", "updated_ms"))
    steps = r.get("steps") or []
    first = min((num(s, "attempt_started_ms") or num(s, "started_ms") for s in steps), default=None)
    last = max((num(s, "finished_ms") or 0 for s in steps), default=None)
    t0, t1 = t if t else (None, None)
    seg = {"ctl_start": diff(t0, sub), "to_adapter": diff(sub, adapter.get(rid)),
           "to_validator": diff(adapter.get(rid), validator.get(rid)),
           "to_coordinator": diff(validator.get(rid), started), "to_first_step": diff(started, first),
           "steps": diff(first, last), "to_terminal": diff(last, upd), "to_return": diff(upd, t1),
           "outside": None}
    if t0 is not None and started is not None and fin is not None:
        seg["outside"] = (t1 - t0) - (fin - started)
    return seg


def read_run(d, prefix, i):
    with open(os.path.join(d, "%s.%d.json" % (prefix, i)), encoding="utf-8") as fh:
        r = json.load(fh)
    t = None
    try:
        with open(os.path.join(d, "%s.%d.t" % (prefix, i)), encoding="utf-8") as fh:
            t = tuple(float(x) for x in fh.read().split()[:2])
    except (OSError, ValueError):
        pass
    return r, t if t and len(t) == 2 else None


def main():
    d = sys.argv[1]
    prefix = sys.argv[2] if len(sys.argv) > 2 else "r"
    adapter = log_times(d, "adapter-*.log", lambda m: m.startswith("prepared "))
    verdict = re.compile(r" for \S+: (valid|invalid)")
    validator = log_times(d, "validator-*.log", lambda m: bool(verdict.search(m)))
    idx = sorted(int(m.group(1)) for m in (re.match(re.escape(prefix) + r"\.(\d+)\.json$", f)
                                           for f in os.listdir(d)) if m)
    to_adapter, to_coord, failed = [], [], 0
    segs = {k: [] for k in SEGMENTS}
    for i in idx:
        try:
            r, t = read_run(d, prefix, i)
            sub, started = float(r["submitted_ms"]), float(r["started_ms"])
        except (OSError, ValueError, KeyError):
            failed += 1
            continue
        if r.get("run_id") in adapter:
            to_adapter.append(adapter[r["run_id"]] - sub)
        to_coord.append(started - sub)
        for k, v in run_segments(r, t, adapter, validator).items():
            if v is not None:
                segs[k].append(v)
    out = {"n": len(to_coord), "failed": failed, "stalls_over_500ms": sum(1 for x in to_adapter if x > 500)}
    for name, v in (("adapter", to_adapter), ("coordinator", to_coord)):
        out.update({name + "_p50_ms": pct(v, 0.5), name + "_p99_ms": pct(v, 0.99),
                    name + "_max_ms": round(max(v), 1) if v else None})
    for k in SEGMENTS:
        out.update({k + "_p50_ms": pct(segs[k], 0.5), k + "_p99_ms": pct(segs[k], 0.99)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
