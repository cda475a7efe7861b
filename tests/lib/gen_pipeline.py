#!/usr/bin/env python3
"""gen_pipeline.py NAME STEPS [WIDTH]: a pipeline of STEPS quick steps on stdout (YAML), for the size
tests and the large-pipeline measurement (docs/bus.md, "Sizes"). Step i depends on step i - WIDTH
(default 50), so WIDTH chains run side by side; each step runs `true`."""
import sys

name, steps = sys.argv[1], int(sys.argv[2])
width = int(sys.argv[3]) if len(sys.argv) > 3 else 50
out = [f"apiVersion: acms/v1\nkind: Pipeline\nmetadata: {{name: {name}, labels: {{team: scale}}}}\nspec:\n  steps:\n"]
for i in range(steps):
    dep = f", depends_on: [s{i - width}]" if i >= width else ""
    out.append(f"    - {{name: s{i}, type: processing, command: [\"true\"], instance_type: ml.t3.medium, "
               f"max_runtime_s: 60, output_path: \"s3://acme-ml/scale/s{i}\", tags: {{cost-center: cc-1, owner: scale}}{dep}}}\n")
sys.stdout.write("".join(out))
