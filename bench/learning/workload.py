#!/usr/bin/python3
"""workload.py: the learning benchmark's workload, simulated in its needs, real in its execution.

N pipelines x M steps; each step runs acms-stepload, which really allocates and touches --mem-mb MiB
and burns --cpu-ms of CPU (through `sh -c 'exec ...'`, so the step's process is the program itself). A step's true needs are drawn once from a seeded distribution (memory
log-uniform in [MEM_LO, MEM_HI] MiB, CPU uniform in [CPU_LO, CPU_HI] ms) and stay the same run
after run, with a small seeded noise per round (+-NOISE) passed in the step's env (BENCH_MEM_MB), as
a real step's input varies while its command stays the same. The users' requests are wrong as real ones
are: a few too small (memory_mb below the need: those steps get killed), most too large (a generous
round number, or no memory_mb at all so the instance type's memory applies).

  workload.py gen --seed S --round R --prefix P --stepload BIN --out DIR [--pipelines N --steps M]
      writes DIR/<P>-<i>.yaml for each pipeline and DIR/truth.json (needs and requests per step)
The same seed gives the same needs and requests whatever the prefix, so the learning and the
baseline runs execute the same workload.
"""
import argparse
import json
import math
import os
import random

MEM_LO, MEM_HI = 24, 200        # MiB the program touches (its own RSS adds ~1 MiB)
CPU_LO, CPU_HI = 100, 300       # ms of CPU
NOISE = 0.03                    # per-round relative noise of the memory need
SHARE_TOO_SMALL = 0.125         # requests below the need (killed for memory until learned)
SHARE_TYPE_DEFAULT = 0.25       # no memory_mb: the instance type's memory x memory_scale applies
NICE_MB = [32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]
TYPES = ["ml.t3.medium", "ml.m5.large", "ml.c5.large"]   # 256, 512, 256 MiB at memory_scale 0.0625
STEP_TYPES = ["processing", "transform", "training", "evaluation", "processing", "custom"]


def deps_of(j):
    """A DAG of 6-step diamonds: s1 -> (s2, s3) -> s4 -> (s5, s6) -> ..."""
    if j == 0:
        return []
    k = j % 3
    if k in (1, 2):
        base = j - k
        return [f"s{base + 1}"]
    return [f"s{j - 1}", f"s{j}"]


def draw(seed, npipes, nsteps):
    rng = random.Random(seed)
    plan = []
    for i in range(npipes):
        steps = []
        for j in range(nsteps):
            need = math.exp(rng.uniform(math.log(MEM_LO), math.log(MEM_HI)))
            cpu = rng.uniform(CPU_LO, CPU_HI)
            itype = rng.choice(TYPES)
            u = rng.random()
            if u < SHARE_TOO_SMALL:
                req = max(20, int(need * rng.uniform(0.55, 0.85)) // 4 * 4)
                kind = "too_small"
            elif u < SHARE_TOO_SMALL + SHARE_TYPE_DEFAULT:
                req = 0   # instance type default
                kind = "type_default"
            else:
                want = need * rng.uniform(1.4, 3.5)
                req = next(m for m in NICE_MB if m >= want)
                kind = "too_large"
            steps.append({"name": f"s{j + 1}", "need_mb": round(need, 1), "cpu_ms": int(cpu),
                          "instance_type": itype, "request_mb": req, "request": kind,
                          "max_runtime_s": rng.choice([60, 120, 300, 600]),
                          "type": STEP_TYPES[j % len(STEP_TYPES)], "depends_on": deps_of(j)})
        plan.append(steps)
    return plan


def noisy(seed, rnd, i, j, need):
    r = random.Random(f"{seed}/{rnd}/{i}/{j}")
    return max(1, int(round(need * (1 + r.uniform(-NOISE, NOISE)))))


def q(s):
    return json.dumps(s)


def gen(a):
    plan = draw(a.seed, a.pipelines, a.steps)
    os.makedirs(a.out, exist_ok=True)
    truth = {}
    for i, steps in enumerate(plan):
        name = f"{a.prefix}-{i + 1}"
        lines = ["apiVersion: acms/v1", "kind: Pipeline",
                 f"metadata: {{name: {name}, labels: {{team: bench}}}}", "spec:", "  max_parallel: 2", "  steps:"]
        for j, s in enumerate(steps):
            mem = noisy(a.seed, a.round, i, j, s["need_mb"])
            # The command is the same every round (learning keys on it: a changed command starts its
            # history afresh); what varies is the input, here the memory the run needs, in env.
            cmd = ["sh", "-c", 'exec "$0" --mem-mb "$BENCH_MEM_MB" --cpu-ms ' + str(s["cpu_ms"]), a.stepload]
            lines += [f"    - name: {s['name']}",
                      f"      type: {s['type']}",
                      f"      command: [{', '.join(q(c) for c in cmd)}]",
                      f"      env: {{BENCH_MEM_MB: {q(str(mem))}}}",
                      f"      instance_type: {s['instance_type']}",
                      f"      max_runtime_s: {s['max_runtime_s']}",
                      f"      output_path: s3://acme-ml/bench/{name}/{s['name']}",
                      "      tags: {owner: bench}"]
            if s["request_mb"]:
                lines.append(f"      memory_mb: {s['request_mb']}")
            if s["depends_on"]:
                lines.append(f"      depends_on: [{', '.join(s['depends_on'])}]")
            truth[f"{name}/{s['name']}"] = dict(s, mem_mb_this_round=mem)
        with open(os.path.join(a.out, f"{name}.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")
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
    g.add_argument("--pipelines", type=int, default=8)
    g.add_argument("--steps", type=int, default=6)
    a = p.parse_args()
    if a.cmd == "gen":
        gen(a)


if __name__ == "__main__":
    main()
