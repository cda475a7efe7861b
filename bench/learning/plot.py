#!/usr/bin/python3
"""plot.py: the learning benchmark's figure, from bench/results/learning.json.

  plot.py LEARNING.json OUT.png
Top row, the non-stationary workload per round: median slack, total slack and the share of steps
killed, for the learning loop and the two offline baselines replayed on the same trace (VPA-style,
Autopilot-style). Bottom row, the stationary workload: the same figures for learning on and off.
matplotlib (Debian python3-matplotlib, installed by `make deps-bench`), Agg backend, no display.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FIGS = [("median_slack", "median slack"), ("total_slack", "total slack"), ("resource_kill_rate", "steps killed")]


def series(rows, key):
    return [r["round"] for r in rows], [(r.get(key) or 0) * 100 for r in rows]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py LEARNING.json OUT.png")
    with open(sys.argv[1]) as fh:
        doc = json.load(fh)
    ns = doc.get("nonstationary") or {}
    fig, ax = plt.subplots(2, 3, figsize=(14, 7.5), constrained_layout=True)
    lines = [("learning loop", [r["ours"] for r in ns.get("rounds", [])], "tab:blue", "o-"),
             ("VPA-style 1.15 x p90", [r["vpa"] for r in ns.get("rounds", [])], "tab:orange", "s--"),
             ("Autopilot-style window peak x 1.1", [r["autopilot"] for r in ns.get("rounds", [])], "tab:green", "^:")]
    for c, (key, label) in enumerate(FIGS):
        for name, rows, color, style in lines:
            if rows:
                x, y = series(rows, key)
                ax[0][c].plot(x, y, style, color=color, label=name)
        goal = {"median_slack": 10, "resource_kill_rate": 1}.get(key)
        if goal is not None:
            ax[0][c].axhline(goal, color="grey", lw=0.8, ls="--")
        ax[0][c].set_title(f"non-stationary: {label} (%)" + (f", goal <= {goal}%" if goal else ""), fontsize=10)
        for name, rows, color, style in [("learning on", doc.get("rounds", []), "tab:blue", "o-"),
                                         ("learning off", doc.get("baseline_rounds", []), "tab:red", "s--")]:
            if rows:
                x, y = series(rows, key)
                ax[1][c].plot(x, y, style, color=color, label=name)
        ax[1][c].set_title(f"stationary: {label} (%)", fontsize=10)
        for r in (0, 1):
            ax[r][c].set_xlabel("round")
            ax[r][c].grid(alpha=0.3)
            ax[r][c].set_ylim(bottom=0)
    for r in (0, 1):
        if ax[r][0].get_legend_handles_labels()[0]:
            ax[r][0].legend(fontsize=8)
    goal = ns.get("goal", {})
    fig.suptitle("make bench-learning: slack and kills per round"
                 + (f" (non-stationary goal {'met' if goal.get('met') else 'NOT met'})" if goal else ""))
    fig.savefig(sys.argv[2], dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
