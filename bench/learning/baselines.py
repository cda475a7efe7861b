#!/usr/bin/python3
"""baselines.py: two offline recommenders replayed on the trace of the non-stationary workload, for
comparison with the learning loop in the same run (imported by analyze.py).

The trace is what the steps really needed, run by run: the measured peak of each step's successful
attempt (its need, whatever limit it ran with), or, for a step that never succeeded, its simulated need
(truth.json) plus the program's own ~1 MiB. A baseline sets one limit per step for a round from the
rounds before it, sees every earlier need in full (also those of runs it would have killed: a
favourable assumption for it), and in round 1 has what the loop had: the step's configured memory.
  VPA-style        1.15 x p90 of the step's history (all earlier runs)
  Autopilot-style  the peak of the step's last WINDOW_ROUNDS rounds x AUTOPILOT_MARGIN
A run whose need is above its limit is a kill (it counts in the kill rate, not in slack); slack
(limit - need) / limit over the others; total slack 1 - sum(need) / sum(limit) over the others.
"""

VPA_FACTOR = 1.15
VPA_Q = 0.90
WINDOW_ROUNDS = 2
AUTOPILOT_MARGIN = 1.10


def percentile(v, q):
    if not v:
        return None
    v = sorted(v)
    x = (len(v) - 1) * q
    lo = int(x)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (x - lo)


def vpa(history_by_round, rnd):
    h = [n for r in range(1, rnd) for n in history_by_round.get(r, [])]
    return VPA_FACTOR * percentile(h, VPA_Q) if h else None


def autopilot(history_by_round, rnd):
    h = [n for r in range(max(1, rnd - WINDOW_ROUNDS), rnd) for n in history_by_round.get(r, [])]
    return AUTOPILOT_MARGIN * max(h) if h else None


RECOMMENDERS = {"vpa": vpa, "autopilot": autopilot}


def replay(trace, name):
    """trace: [{"round", "step" (pipeline/step), "need_mb", "initial_mb"}]. Per round figures of the
    recommender `name`."""
    rule = RECOMMENDERS[name]
    hist = {}
    for t in trace:
        hist.setdefault(t["step"], {}).setdefault(t["round"], []).append(t["need_mb"])
    rounds = sorted({t["round"] for t in trace})
    out = []
    for rnd in rounds:
        steps = killed = 0
        slacks, need_sum, limit_sum = [], 0.0, 0.0
        for t in (t for t in trace if t["round"] == rnd):
            limit = rule(hist[t["step"]], rnd)
            if limit is None:
                limit = t["initial_mb"]
            limit = float(int(limit + 0.999999))   # whole MiB, rounded up, as limits are
            steps += 1
            if t["need_mb"] > limit:
                killed += 1
                continue
            slacks.append((limit - t["need_mb"]) / limit)
            need_sum += t["need_mb"]
            limit_sum += limit
        r4 = lambda x: None if x is None else round(x, 4)
        out.append({"round": rnd, "steps": steps, "killed_steps": killed,
                     "resource_kill_rate": r4(killed / steps if steps else None),
                     "median_slack": r4(percentile(slacks, 0.5)),
                     "total_slack": r4(1 - need_sum / limit_sum if limit_sum else None),
                     "memory_limit_mb": round(limit_sum), "memory_need_mb": round(need_sum)})
    return out
