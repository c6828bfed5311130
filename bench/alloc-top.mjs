#!/usr/bin/env node
// The top allocating functions of a sampling heap profile (V8's HeapProfiler, e.g. written by
// bench/metrics-scrape.mjs --alloc-profile): self bytes by function and by file, as shares of all
// sampled bytes. With collected objects included, that is where the garbage comes from.
//
//   node bench/alloc-top.mjs FILE.heapprofile [--top 25]
import { readFileSync } from 'node:fs';

const [file] = process.argv.slice(2);
const i = process.argv.indexOf('--top');
const TOP = i > 0 ? Number(process.argv[i + 1]) : 25;
if (!file) {
  console.error('usage: node bench/alloc-top.mjs FILE.heapprofile [--top 25]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byFunction = new Map();
const byFile = new Map();
let total = 0;
const short = (url) => url.replace(/^.*\/(dist|node_modules)\//, '').replace(/^file:\/\//, '') || '(native)';
const walk = (node, stack) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const self = node.selfSize;
  total += self;
  const name = `${functionName || '(anonymous)'} ${short(url)}:${lineNumber + 1}`;
  // the caller that is ours, for an allocation inside Node or a library
  const ours = stack.findLast((f) => f.includes('src/')) ?? '';
  const key = `${name}${ours && !name.includes('src/') ? `  <- ${ours}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + self);
  byFile.set(short(url), (byFile.get(short(url)) ?? 0) + self);
  for (const c of node.children) walk(c, [...stack, name]);
};
walk(profile.head, []);
const show = (title, m) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${(v / 1e6).toFixed(1).padStart(7)} MB  ${k}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} MB sampled`);
show('self bytes by function (and our caller)', byFunction);
show('self bytes by file', byFile);
