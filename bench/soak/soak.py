#!/usr/bin/env python3
"""soak.py: the measuring half of `make bench-soak` (bench/soak/run.sh drives the stack).

  soak.py sample --stack DIR --out CSV --every S --stop FILE
      until FILE exists: every S seconds one CSV line: Redis used_memory and key count, the number
      of runs Redis lists (acms:runs), every process's RSS (the five services, redis-server, the
      broker), each service's consumer lag (sum of acms_consumer_lag), runs finished and expired
      (the coordinator's counters)
  soak.py report --csv CSV --json OUT.json --png OUT.png --runs N --retention S --warmup S
                 --submit-end T [--baseline-bytes-per-run B]
      the table (every ~30 s), the plot, the verdict: every run finished, the lag drained, Redis
      used_memory and the RSS of every service and of redis-server flat over the steady window
      (after warmup, until the submissions end: last-quarter mean at most 10 % or 2 MiB above the
      first-quarter mean for used_memory, 20 % or 4 MiB for an RSS; the least-squares slope is
      printed beside), and no run left in Redis once the retention passed. The devbroker's RSS is
      reported, not judged: it holds the topics' history in memory. Exit 0 when it passes.

Redis is read with redis-cli; /metrics with urllib. The plot needs python3-matplotlib.
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

SERVICES = ["adapter", "validator", "coordinator", "monitor", "feedback"]
PROCS = SERVICES + ["redis", "broker"]


def redis(stack, *args):
    port = open(os.path.join(stack, "redis.port")).read().strip()
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", port] + list(args), capture_output=True, text=True,
                         timeout=10)
    return out.stdout


def rss_kb(stack, name):
    try:
        pid = open(os.path.join(stack, name + ".pid")).read().split()[0]
        for line in open("/proc/%s/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return 0


def metrics(stack, sid):
    try:
        port = open(os.path.join(stack, sid + ".port")).read().strip()
        with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=3) as r:
            return r.read().decode()
    except OSError:
        return ""


def total(text, name):
    return sum(float(m.group(1)) for m in re.finditer(r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M))


def sample(a):
    t0 = time.time()
    fields = ["t", "used_memory", "keys", "runs_listed", "finished", "expired", "lag"] + \
             ["lag_" + s for s in SERVICES] + ["rss_" + p for p in PROCS]
    with open(a.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        while not os.path.exists(a.stop):
            row = {"t": round(time.time() - t0, 1)}
            info = redis(a.stack, "INFO", "memory")
            m = re.search(r"^used_memory:(\d+)", info, re.M)
            row["used_memory"] = int(m.group(1)) if m else 0
            row["keys"] = int((redis(a.stack, "DBSIZE").strip() or "0"))
            row["runs_listed"] = int((redis(a.stack, "ZCARD", "acms:runs").strip() or "0"))
            lag = 0
            for s in SERVICES:
                text = metrics(a.stack, s + "-0")
                row["lag_" + s] = int(total(text, "acms_consumer_lag"))
                lag += row["lag_" + s]
                if s == "coordinator":
                    row["finished"] = int(total(text, "acms_coord_runs_finished_total"))
                    row["expired"] = int(total(text, "acms_retention_runs_expired_total"))
            row["lag"] = lag
            for p in PROCS:
                row["rss_" + p] = rss_kb(a.stack, p if p in ("redis", "broker") else p + "-0")
            w.writerow(row)
            f.flush()
            time.sleep(max(0.0, a.every - (time.time() - t0 - row["t"])))


def growth(rows, key):
    """(first-quarter mean, last-quarter mean) of key over rows."""
    q = max(1, len(rows) // 4)
    first = sum(float(r[key]) for r in rows[:q]) / q
    last = sum(float(r[key]) for r in rows[-q:]) / q
    return first, last


def slope(rows, key):
    """Least-squares slope of key over rows, per minute."""
    t = [float(r["t"]) for r in rows]
    y = [float(r[key]) for r in rows]
    n = len(t)
    if n < 2:
        return 0.0
    mt, my = sum(t) / n, sum(y) / n
    den = sum((x - mt) ** 2 for x in t)
    return 60 * sum((x - mt) * (v - my) for x, v in zip(t, y)) / den if den else 0.0


def plot(rows, a, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = [float(r["t"]) for r in rows]
    fig, ax = plt.subplots(3, 1, figsize=(10, 11), sharex=True)
    ax[0].plot(t, [int(r["used_memory"]) / 2**20 for r in rows], label="Redis used_memory (MiB)", color="C3")
    ax0b = ax[0].twinx()
    ax0b.plot(t, [int(r["runs_listed"]) for r in rows], label="runs kept in Redis", color="C0", alpha=0.6)
    ax[0].set_ylabel("MiB")
    ax0b.set_ylabel("runs")
    ax[0].set_title("Redis: memory and runs kept (retention %d s)" % a.retention)
    for p in PROCS:
        ax[1].plot(t, [int(r["rss_" + p]) / 1024 for r in rows], label=p)
    ax[1].set_ylabel("RSS MiB")
    ax[1].set_title("Resident memory per process")
    for s in SERVICES:
        ax[2].plot(t, [int(r["lag_" + s]) for r in rows], label=s)
    ax[2].set_ylabel("events")
    ax[2].set_title("Consumer lag per service")
    ax[2].set_xlabel("seconds since the soak started (services restarted with the short retention)")
    for x in ax:
        x.axvline(a.submit_end, color="grey", linestyle="--", linewidth=1)
        x.axvspan(a.warmup, a.submit_end, color="green", alpha=0.06)
        x.grid(alpha=0.3)
    ax[0].legend(loc="upper left")
    ax0b.legend(loc="upper right")
    ax[1].legend(loc="upper left", ncol=4, fontsize=8)
    ax[2].legend(loc="upper left", ncol=5, fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)


def report(a):
    rows = list(csv.DictReader(open(a.csv)))
    steady = [r for r in rows if a.warmup <= float(r["t"]) <= a.submit_end]
    last = rows[-1]
    verdicts = []
    verdicts.append(("every run finished", int(last["finished"]) == a.runs, "%s of %d" % (last["finished"], a.runs)))
    verdicts.append(("the lag drained", int(last["lag"]) == 0, "lag %s at the end" % last["lag"]))
    verdicts.append(("no run left in Redis after the retention", int(last["runs_listed"]) == 0,
                     "%s listed at the end" % last["runs_listed"]))
    verdicts.append(("a steady window of at least 8 samples", len(steady) >= 8, "%d samples" % len(steady)))
    flat = {}
    if steady:
        f, l = growth(steady, "used_memory")
        k = slope(steady, "used_memory")
        flat["redis used_memory"] = (f, l, k)
        ok = l - f <= max(0.10 * f, 2 * 2**20)
        verdicts.append(("Redis memory flat", ok, "%.1f -> %.1f MiB, slope %+.0f KiB/min" % (
            f / 2**20, l / 2**20, k / 1024)))
        for p in PROCS:
            f, l = growth(steady, "rss_" + p)
            k = slope(steady, "rss_" + p)
            flat["rss " + p] = (f * 1024, l * 1024, k * 1024)
            detail = "%.1f -> %.1f MiB, slope %+.0f KiB/min" % (f / 1024, l / 1024, k)
            if p == "broker":  # the devbroker holds the topics' history in memory: reported, not judged
                print("info: broker RSS %s (the devbroker keeps every topic's messages in memory, up to "
                      "5 MiB per partition: the history on the bus, which retention does not touch)" % detail)
                continue
            ok = l - f <= max(0.20 * f, 4096)
            verdicts.append(("%s RSS flat" % p, ok, detail))
    print("%6s %8s %8s %7s %9s %8s %8s  %s  %s" % ("t(s)", "finished", "expired", "kept", "redis MiB", "keys", "lag",
                                                    " ".join("%5s" % p[:5] for p in PROCS), "(RSS MiB)"))
    step = max(1, int(30 / max(0.1, float(rows[1]["t"]) - float(rows[0]["t"])))) if len(rows) > 1 else 1
    for i, r in enumerate(rows):
        if i % step and i != len(rows) - 1:
            continue
        print("%6.0f %8s %8s %7s %9.1f %8s %8s  %s" % (
            float(r["t"]), r["finished"], r["expired"], r["runs_listed"], int(r["used_memory"]) / 2**20, r["keys"],
            r["lag"], " ".join("%5.1f" % (int(r["rss_" + p]) / 1024) for p in PROCS)))
    peak = max(int(r["used_memory"]) for r in rows)
    print("peak Redis used_memory %.1f MiB, peak lag %d" % (peak / 2**20, max(int(r["lag"]) for r in rows)))
    if a.baseline_bytes_per_run:
        print("without retention (baseline phase): %.0f bytes per run kept, %.0f MiB for %d runs" % (
            a.baseline_bytes_per_run, a.baseline_bytes_per_run * a.runs / 2**20, a.runs))
    for what, ok, detail in verdicts:
        print("%s %s (%s)" % ("PASS" if ok else "FAIL", what, detail))
    passed = all(ok for _, ok, _ in verdicts)
    json.dump({"runs": a.runs, "retention_s": a.retention, "warmup_s": a.warmup, "submit_end_s": a.submit_end,
               "baseline_bytes_per_run": a.baseline_bytes_per_run, "peak_used_memory": peak,
               "flat": {k: {"first_quarter": v[0], "last_quarter": v[1], "slope_per_min": v[2]} for k, v in flat.items()},
               "verdicts": [{"check": w, "pass": ok, "detail": d} for w, ok, d in verdicts], "pass": passed,
               "samples": rows}, open(a.json, "w"), indent=1)
    try:
        plot(rows, a, a.png)
        print("plot: %s" % a.png)
    except ImportError as e:
        print("FAIL: no plot (%s): install python3-matplotlib (make bench-soak does)" % e)
        passed = False
    return 0 if passed else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--stack", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--every", type=float, default=5)
    s.add_argument("--stop", required=True)
    r = sub.add_parser("report")
    r.add_argument("--csv", required=True)
    r.add_argument("--json", required=True)
    r.add_argument("--png", required=True)
    r.add_argument("--runs", type=int, required=True)
    r.add_argument("--retention", type=float, required=True)
    r.add_argument("--warmup", type=float, required=True)
    r.add_argument("--submit-end", type=float, required=True)
    r.add_argument("--baseline-bytes-per-run", type=float, default=0)
    a = ap.parse_args()
    if a.cmd == "sample":
        sample(a)
        return 0
    return report(a)


if __name__ == "__main__":
    sys.exit(main())
