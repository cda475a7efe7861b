#!/usr/bin/python3
"""growth.py: the learning benchmark's non-stationary workload, simulated in its needs, real in its
execution.

PIPELINES pipelines of STEPS chained steps (s1 -> s2 -> ...); each round runs RUNS runs (spread evenly
over the pipelines). A run's input size is ROWS = R0 x exp(N(0, SIGMA)) (lognormal, about +-30% from
run to run), passed to every step of the run in env ROWS; each step declares `sizing: {input: ROWS}`.
A step's memory need follows the input and grows by GROWTH per round:
    need = base x (ROWS / R0)^alpha x GROWTH^(round - 1) x (1 + U(-NOISE, NOISE))
with base (log-uniform in [BASE_LO, BASE_HI] MiB) and alpha (uniform in [ALPHA_LO, ALPHA_HI]) drawn
once per step from the seed, and the CPU the step burns following the input the same way. The step
runs acms-stepload, which really allocates and touches the need (passed in BENCH_MEM_MB: what the
program does with its input, hidden from the learning loop, which sees ROWS only). The users' requests
are wrong the way real ones are (as in workload.py): a few too small, some left to the instance type,
most too large; they stay the same every round.

  growth.py gen --seed S --round R --prefix P --stepload BIN --out DIR [--pipelines 2 --steps 5 --runs 8]
                [--no-sizing]   (the steps do not declare sizing: the loop learns from history alone)
      writes DIR/<P>-<i>-run<k>.yaml (one file per run) and DIR/truth.json (per run and step: rows,
      need, request)
The same seed gives the same trace whatever the prefix.
"""
import argparse
import json
import math
import os
import random

R0 = 1_000_000
SIGMA = 0.3
GROWTH = 1.06
NOISE = 0.03
BASE_LO, BASE_HI = 32, 160       # MiB at ROWS = R0 in round 1
ALPHA_LO, ALPHA_HI = 0.5, 1.0
CPU_LO, CPU_HI = 100, 250        # ms at ROWS = R0
SHARE_TOO_SMALL = 0.125
SHARE_TYPE_DEFAULT = 0.25
NICE_MB = [32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]
TYPES = ["ml.t3.medium", "ml.m5.large", "ml.c5.large"]   # 256, 512, 256 MiB at memory_scale 0.0625
STEP_TYPES = ["processing", "transform", "training", "evaluation", "custom"]


def draw_steps(seed, npipes, nsteps):
    """The steps' laws and the users' requests, drawn once per seed."""
    rng = random.Random(f"{seed}/steps")
    plan = []
    for _ in range(npipes):
        steps = []
        for j in range(nsteps):
            base = math.exp(rng.uniform(math.log(BASE_LO), math.log(BASE_HI)))
            alpha = rng.uniform(ALPHA_LO, ALPHA_HI)
            cpu = rng.uniform(CPU_LO, CPU_HI)
            itype = rng.choice(TYPES)
            u = rng.random()
            if u < SHARE_TOO_SMALL:
                req, kind = max(20, int(base * rng.uniform(0.55, 0.85)) // 4 * 4), "too_small"
            elif u < SHARE_TOO_SMALL + SHARE_TYPE_DEFAULT:
                req, kind = 0, "type_default"
            else:
                want = base * rng.uniform(1.4, 3.5)
                req, kind = next(m for m in NICE_MB if m >= want), "too_large"
            steps.append({"name": f"s{j + 1}", "base_mb": round(base, 2), "alpha": round(alpha, 3),
                          "cpu_ms": int(cpu), "instance_type": itype, "request_mb": req, "request": kind,
                          "type": STEP_TYPES[j % len(STEP_TYPES)]})
        plan.append(steps)
    return plan


def run_rows(seed, rnd, run):
    r = random.Random(f"{seed}/rows/{rnd}/{run}")
    return int(round(R0 * math.exp(r.gauss(0.0, SIGMA))))


def need_of(seed, rnd, run, j, step, rows):
    r = random.Random(f"{seed}/need/{rnd}/{run}/{j}")
    x = rows / R0
    need = step["base_mb"] * x ** step["alpha"] * GROWTH ** (rnd - 1) * (1 + r.uniform(-NOISE, NOISE))
    cpu = step["cpu_ms"] * x ** step["alpha"]
    return max(1, int(round(need))), max(10, int(round(cpu)))


def run_yaml(name, steps, rows, needs, stepload, sizing=True):
    lines = ["apiVersion: acms/v1", "kind: Pipeline", f"metadata: {{name: {name}, labels: {{team: bench}}}}",
             "spec:", "  max_parallel: 1", "  steps:"]
    for j, s in enumerate(steps):
        mem, cpu = needs[j]
        cmd = ["sh", "-c", 'exec "$0" --mem-mb "$BENCH_MEM_MB" --cpu-ms "$BENCH_CPU_MS"', stepload]
        lines += [f"    - name: {s['name']}",
                  f"      type: {s['type']}",
                  f"      command: [{', '.join(json.dumps(c) for c in cmd)}]",
                  f"      env: {{ROWS: \"{rows}\", BENCH_MEM_MB: \"{mem}\", BENCH_CPU_MS: \"{cpu}\"}}",
                  *(["      sizing: {input: ROWS}"] if sizing else []),
                  f"      instance_type: {s['instance_type']}",
                  "      max_runtime_s: 300",
                  f"      output_path: s3://acme-ml/bench/{name}/{s['name']}",
                  "      tags: {owner: bench}"]
        if s["request_mb"]:
            lines.append(f"      memory_mb: {s['request_mb']}")
        if j:
            lines.append(f"      depends_on: [{steps[j - 1]['name']}]")
    return "\n".join(lines) + "\n"


def gen(a):
    plan = draw_steps(a.seed, a.pipelines, a.steps)
    os.makedirs(a.out, exist_ok=True)
    truth = {}
    for k in range(a.runs):
        i = k % a.pipelines
        name = f"{a.prefix}-{i + 1}"
        rows = run_rows(a.seed, a.round, k)
        needs = [need_of(a.seed, a.round, k, j, s, rows) for j, s in enumerate(plan[i])]
        with open(os.path.join(a.out, f"{name}-run{k + 1}.yaml"), "w") as f:
            f.write(run_yaml(name, plan[i], rows, needs, a.stepload, not a.no_sizing))
        for j, s in enumerate(plan[i]):
            truth[f"{name}-run{k + 1}/{s['name']}"] = dict(s, pipeline=name, run=k + 1, rows=rows,
                                                          need_mb=needs[j][0], cpu_ms_this_run=needs[j][1])
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--round", type=int, required=True)
    g.add_argument("--prefix", required=True)
    g.add_argument("--stepload", required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--pipelines", type=int, default=2)
    g.add_argument("--steps", type=int, default=5)
    g.add_argument("--runs", type=int, default=8)
    g.add_argument("--no-sizing", action="store_true")
    a = p.parse_args()
    gen(a)


if __name__ == "__main__":
    main()
