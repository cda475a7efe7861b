// bench.js: microseconds per document for ajv 8: JSON.parse plus a compiled JSON Schema of the
// pipeline's structural rules (the part of our syntax level a schema can say). Usage:
//   node bench/ajv/bench.js FILE [--runs 7]
// Prints {"file":..,"valid":..,"us":<median of runs>,"runs":[..]}; each run is about 0.2 s of CPU.
// Time is the process's CPU time (process.cpuUsage: user + system, all threads, so the JIT's and
// the GC's helpers count), so time spent descheduled on a shared machine does not; "wall_us" too.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv = require(path.join(__dirname, 'node_modules', 'ajv'));

const strMap = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } };
const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'acms/v1' },
    kind: { const: 'Pipeline' },
    metadata: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
        labels: strMap,
      },
    },
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['steps'],
      properties: {
        max_parallel: { type: 'integer', minimum: 0 },
        steps: {
          type: 'array',
          minItems: 1,
          maxItems: 5000,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'command'],
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
              type: { enum: ['processing', 'training', 'evaluation', 'transform', 'custom'] },
              command: { type: 'array', minItems: 1, items: { type: 'string' } },
              instance_type: { type: 'string' },
              instance_count: { type: 'integer', minimum: 1, maximum: 1000 },
              memory_mb: { type: 'integer', minimum: 0 },
              volume_size_gb: { type: 'integer', minimum: 0 },
              max_runtime_s: { type: 'integer', minimum: 0, maximum: 432000 },
              output_path: { type: 'string' },
              env: strMap,
              depends_on: { type: 'array', items: { type: 'string' } },
              tags: strMap,
              optional: { type: 'boolean' },
            },
          },
        },
      },
    },
  },
};

function main() {
  const args = process.argv.slice(2);
  const file = args[0];
  let runs = 7;
  for (let i = 1; i < args.length; i += 2) if (args[i] === '--runs') runs = parseInt(args[i + 1], 10);
  const text = fs.readFileSync(file, 'utf8');
  const validate = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(schema);
  const one = () => validate(JSON.parse(text));
  const valid = one();
  // calibrate to about 0.2 s a run after a warm-up that lets the JIT settle
  const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
  let iters = 0;
  const t0 = cpu();
  while (cpu() - t0 < 200e3) { one(); iters++; }
  const per = [], wall = [];
  for (let r = 0; r < runs; r++) {
    const s = cpu(), w = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) one();
    per.push((cpu() - s) / iters);
    wall.push(Number(process.hrtime.bigint() - w) / 1e3 / iters);
  }
  const med = (v) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const us = med(per);
  process.stdout.write(JSON.stringify({ file, bytes: Buffer.byteLength(text), valid, iters, us: +us.toFixed(3),
    wall_us: +med(wall).toFixed(3),
    runs: per.map((x) => +x.toFixed(3)), errors: valid ? 0 : validate.errors.length }) + '\n');
}

main();
