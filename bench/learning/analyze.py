#!/usr/bin/python3
"""analyze.py: the learning benchmark's figures, from what the runs reported.

  analyze.py DIR OUT.json
DIR/<series>/round-<r>/ holds one `acmsctl submit --wait --format json` document per pipeline run
(<pipeline>.json) and wall_ms (the round's wall time); series "learn" (learning_mode apply) and
"base" (learning_mode off, the baseline) of the stationary workload, and "growth" (the non-stationary
workload, growth.py; learning_mode apply; truth.json beside the runs), for which the two offline
baselines of baselines.py are replayed on the same trace. Per round:
  steps               steps run
  resource_kill_rate  steps with an attempt killed for memory, time or CPU time / steps
  median_slack        median of (limit - peak) / limit over the successful attempts (memory)
  p90_slack           90th percentile of the same (linear interpolation)
  retries             attempts beyond the first, over all steps
  total_slack         1 - sum(peak) / sum(limit) over the successful attempts (memory reserved and
                      unused, Autopilot's aggregate form of the same ratio)
  wall_s              from the first submission to the last run's end (baseline: mean per round)
plus failed steps and overruns (a successful attempt whose measured peak exceeded its limit: the
local executor samples RSS every 50 ms, so a spike shorter than that can pass unseen; counted
here so the figures cannot hide it). Writes OUT.json as
{"rounds":[{"round":1,...}], "baseline":{the same figures over every baseline round},
 "baseline_rounds":[per round], "goal_last_round":{...}, "workload":{...}}
and prints the table.
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baselines  # noqa: E402

KILLS = {"MEMORY", "TIME", "CPU_TIME"}


def percentile(v, q):
    if not v:
        return None
    v = sorted(v)
    x = (len(v) - 1) * q
    lo = int(x)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (x - lo)


def figures(dirs, rnd):
    """The figures of the runs in dirs (one round, or every baseline round together)."""
    steps = killed = retries = failed = overruns = runs = runs_failed = 0
    slacks = []
    limit_mb = peak_mb = 0.0
    files = [f for d in dirs for f in sorted(glob.glob(os.path.join(d, "*.json")))
             if os.path.basename(f) != "truth.json"]
    for f in files:
        try:
            with open(f) as fh:
                run = json.load(fh)
        except (OSError, ValueError):
            run = {}
        runs += 1
        if run.get("status") != "succeeded":
            runs_failed += 1
        for s in run.get("steps", []):
            steps += 1
            att = s.get("attempts") or []
            retries += max(0, len(att) - 1)
            if any(a.get("reason") in KILLS for a in att):
                killed += 1
            ok = [a for a in att if a.get("reason") == "OK"]
            if s.get("status") != "succeeded" or not ok:
                failed += 1
                continue
            a = ok[-1]
            lim = float(a.get("memory_mb") or 0)
            peak = float(a.get("peak_rss_kb") or 0) / 1024.0
            if lim <= 0 or peak <= 0:
                continue
            if peak > lim:
                overruns += 1
            slacks.append(max(0.0, (lim - peak) / lim))
            limit_mb += lim
            peak_mb += peak
    walls = []
    for d in dirs:
        try:
            with open(os.path.join(d, "wall_ms")) as fh:
                walls.append(int(fh.read().strip()) / 1000.0)
        except (OSError, ValueError):
            pass
    wall = sum(walls) / len(walls) if walls else None
    r = lambda x, n=4: None if x is None else round(x, n)
    return {"round": rnd, "steps": steps, "resource_kill_rate": r(killed / steps if steps else None),
            "median_slack": r(percentile(slacks, 0.5)), "p90_slack": r(percentile(slacks, 0.9)),
            "retries": retries, "wall_s": r(wall, 1), "killed_steps": killed, "failed_steps": failed,
            "overruns": overruns, "runs": runs, "runs_failed": runs_failed,
            "memory_limit_mb": round(limit_mb), "memory_peak_mb": round(peak_mb),
            "total_slack": r(1.0 - peak_mb / limit_mb if limit_mb > 0 else None)}


def round_dirs(root, name):
    return sorted(glob.glob(os.path.join(root, name, "round-*")), key=lambda p: int(p.rsplit("-", 1)[1]))


def series(root, name):
    return [figures([d], int(d.rsplit("-", 1)[1])) for d in round_dirs(root, name)]


def fmt(x, pct=False):
    if x is None:
        return "-"
    return f"{x * 100:.1f}%" if pct else str(x)


def table(learn, base, baseline):
    head = (f"{'round':>5} | {'steps':>5} {'kills':>7} {'median slack':>12} {'p90 slack':>9} {'total slack':>11} "
            f"{'retries':>7} {'wall s':>6}")
    lines = ["learning (learning_mode apply)", head, "-" * len(head)]
    for x in learn:
        lines.append(f"{x['round']:>5} | {x['steps']:>5} {fmt(x['resource_kill_rate'], 1):>7} "
                     f"{fmt(x['median_slack'], 1):>12} {fmt(x['p90_slack'], 1):>9} {fmt(x['total_slack'], 1):>11} "
                     f"{x['retries']:>7} "
                     f"{fmt(x['wall_s']):>6}")
    lines += ["", "baseline (learning_mode off, the same workload)", head, "-" * len(head)]
    for x in base + ([dict(baseline, round="all")] if baseline else []):
        lines.append(f"{x['round']:>5} | {x['steps']:>5} {fmt(x['resource_kill_rate'], 1):>7} "
                     f"{fmt(x['median_slack'], 1):>12} {fmt(x['p90_slack'], 1):>9} {fmt(x['total_slack'], 1):>11} "
                     f"{x['retries']:>7} "
                     f"{fmt(x['wall_s']):>6}")
    return "\n".join(lines)


def growth_trace(root):
    """The non-stationary runs as a trace: per round, run and step, the need (the successful attempt's
    measured peak, else the simulated need + 1 MiB) and the step's configured memory in round 1."""
    trace, initial = [], {}
    for d in round_dirs(root, "growth"):
        rnd = int(d.rsplit("-", 1)[1])
        try:
            with open(os.path.join(d, "truth.json")) as fh:
                truth = json.load(fh)
        except (OSError, ValueError):
            truth = {}
        for f in sorted(glob.glob(os.path.join(d, "*-run*.json"))):
            run_name = os.path.basename(f)[:-5]
            try:
                with open(f) as fh:
                    run = json.load(fh)
            except (OSError, ValueError):
                run = {}
            by_name = {s.get("name"): s for s in run.get("steps", [])}
            for key, t in sorted(truth.items()):
                if not key.startswith(run_name + "/"):
                    continue
                step = key.split("/", 1)[1]
                s = by_name.get(step, {})
                att = s.get("attempts") or []
                ok = [a for a in att if a.get("reason") == "OK" and float(a.get("peak_rss_kb") or 0) > 0]
                need = float(ok[-1]["peak_rss_kb"]) / 1024.0 if ok else t["need_mb"] + 1.0
                sid = f"{t['pipeline']}/{step}"
                if rnd == 1 and att and sid not in initial:
                    initial[sid] = float(att[0].get("memory_mb") or 0)
                trace.append({"round": rnd, "step": sid, "need_mb": need, "rows": t["rows"]})
    for t in trace:
        t["initial_mb"] = initial.get(t["step"], 0.0)
    return trace


def growth_section(root):
    dirs = round_dirs(root, "growth")
    if not dirs:
        return None
    ours = series(root, "growth")
    trace = growth_trace(root)
    vpa, ap = baselines.replay(trace, "vpa"), baselines.replay(trace, "autopilot")
    rounds = [{"round": o["round"], "ours": o, "vpa": v, "autopilot": a} for o, v, a in zip(ours, vpa, ap)]
    last = rounds[-2:]
    steps = sum(r["ours"]["steps"] for r in last)
    kills = sum(r["ours"]["killed_steps"] for r in last)
    goal = {"rounds": [r["round"] for r in last], "resource_kill_rate_max": 0.01, "median_slack_max": 0.10,
            "resource_kill_rate": round(kills / steps, 4) if steps else None,
            "median_slack": [r["ours"]["median_slack"] for r in last],
            "total_slack": [r["ours"]["total_slack"] for r in last],
            "vpa_total_slack": [r["vpa"]["total_slack"] for r in last]}
    goal["resource_kill_rate_met"] = steps > 0 and kills / steps <= 0.01
    goal["median_slack_met"] = all(m is not None and m <= 0.10 for m in goal["median_slack"])
    goal["total_slack_below_vpa_met"] = all(
        o is not None and v is not None and o < v for o, v in zip(goal["total_slack"], goal["vpa_total_slack"]))
    goal["met"] = goal["resource_kill_rate_met"] and goal["median_slack_met"] and goal["total_slack_below_vpa_met"]
    return {"rounds": rounds, "goal": goal, "baselines": {
        "vpa": f"{baselines.VPA_FACTOR} x p{int(baselines.VPA_Q * 100)} of the step's history",
        "autopilot": f"peak of the step's last {baselines.WINDOW_ROUNDS} rounds x {baselines.AUTOPILOT_MARGIN}"}}


def growth_table(ns):
    head = (f"{'round':>5} | {'steps':>5} | {'kills':>6} {'median':>7} {'total':>7} | {'kills':>6} {'median':>7} "
            f"{'total':>7} | {'kills':>6} {'median':>7} {'total':>7}")
    lines = ["non-stationary workload (input-dependent needs, +6%/round): learning loop | VPA-style | Autopilot-style",
             head, "-" * len(head)]
    for r in ns["rounds"]:
        cells = []
        for k in ("ours", "vpa", "autopilot"):
            x = r[k]
            cells.append(f"{fmt(x['resource_kill_rate'], 1):>6} {fmt(x['median_slack'], 1):>7} "
                         f"{fmt(x['total_slack'], 1):>7}")
        lines.append(f"{r['round']:>5} | {r['ours']['steps']:>5} | " + " | ".join(cells))
    g = ns["goal"]
    lines.append("")
    lines.append(f"goal over rounds {g['rounds']}: kills <= 1% ({'met' if g['resource_kill_rate_met'] else 'NOT met'}), "
                 f"median slack <= 10% ({'met' if g['median_slack_met'] else 'NOT met'}), total slack below the "
                 f"VPA-style baseline ({'met' if g['total_slack_below_vpa_met'] else 'NOT met'})")
    return "\n".join(lines)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: analyze.py DIR OUT.json")
    root, out = sys.argv[1], sys.argv[2]
    learn, base = series(root, "learn"), series(root, "base")
    meta = {}
    try:
        with open(os.path.join(root, "meta.json")) as fh:
            meta = json.load(fh)
    except (OSError, ValueError):
        pass
    last = learn[-1] if learn else {}
    goal = {"median_slack_max": 0.20, "resource_kill_rate_max": 0.01,
            "median_slack_met": last.get("median_slack") is not None and last["median_slack"] <= 0.20,
            "resource_kill_rate_met": last.get("resource_kill_rate") is not None and last["resource_kill_rate"] <= 0.01}
    dirs = round_dirs(root, "base")
    baseline = figures(dirs, None) if dirs else {}
    if baseline:
        del baseline["round"]
        baseline["rounds"] = len(dirs)
        baseline["steps_per_round"] = baseline["steps"] // len(dirs)
    doc = {"rounds": learn, "baseline": baseline, "baseline_rounds": base,
           "goal_last_round": goal, "workload": meta}
    ns = growth_section(root)
    if ns:
        try:
            with open(os.path.join(root, "growth-meta.json")) as fh:
                ns["workload"] = json.load(fh)
        except (OSError, ValueError):
            pass
        doc["nonstationary"] = ns
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, out)
    print(table(learn, base, baseline))
    print()
    print(f"goal by the last round: median slack <= 20% ({'met' if goal['median_slack_met'] else 'NOT met'}), "
          f"resource kills <= 1% of steps ({'met' if goal['resource_kill_rate_met'] else 'NOT met'})")
    if ns:
        print()
        print(growth_table(ns))
    return 0 if learn or ns else 1


if __name__ == "__main__":
    sys.exit(main())
