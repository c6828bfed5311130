#!/usr/bin/env node
// The top functions of a V8 CPU profile (node --cpu-prof): self time and total (inclusive) time,
// each as a share of the samples, and self time by file. What docs/benchmarks.md quotes.
//
//   node bench/cpuprofile-top.mjs FILE.cpuprofile [--top 20] [--from SECONDS]
//
// --from skips the samples of the first seconds (startup, reading the file) to see the steady state.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) throw new Error('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [--top 20] [--from SECONDS]');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const TOP = arg('top', 20);
const FROM_US = arg('from', 0) * 1e6;
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const short = (url) => (url ? url.replace(/^file:\/\//, '').replace(/.*\/(node_modules\/[^/]+\/|dist\/)/, '$1') : '');
const label = (n) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const self = new Map();
const total = new Map();
const files = new Map();
let samples = 0;
let t = p.startTime;
let idle = 0;
p.samples.forEach((id, i) => {
  t += p.timeDeltas[i] ?? 0;
  if (t - p.startTime < FROM_US) return;
  samples++;
  const n = byId.get(id);
  const name = label(n);
  if (n.callFrame.functionName === '(idle)') idle++;
  self.set(name, (self.get(name) ?? 0) + 1);
  const f = short(n.callFrame.url) || n.callFrame.functionName;
  files.set(f, (files.get(f) ?? 0) + 1);
  const seen = new Set();
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const l = label(byId.get(x));
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + 1);
  }
});
const pct = (k) => `${((100 * k) / samples).toFixed(1)}%`;
const busy = samples - idle;
const top = (m, title) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`${pct(v).padStart(6)}  ${k}\n`);
};
process.stdout.write(`${file}: ${samples} samples, ${pct(busy)} not idle\n`);
top(self, 'self time');
top(total, 'total time (inclusive)');
top(files, 'self time by file');
