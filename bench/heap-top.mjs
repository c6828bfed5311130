#!/usr/bin/env node
// What a V8 heap snapshot (v8.writeHeapSnapshot, bench/dashboard-frames.mjs --heap-snapshot) holds:
// self size by node type and constructor name, largest first.
//
//   node bench/heap-top.mjs FILE.heapsnapshot [--top 25]
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) throw new Error('usage: node bench/heap-top.mjs FILE.heapsnapshot [--top 25]');
const i = process.argv.indexOf('--top');
const TOP = i > 0 ? Number(process.argv[i + 1]) : 25;
const snap = JSON.parse(readFileSync(file, 'utf8'));
const meta = snap.snapshot.meta;
const F = meta.node_fields.length;
const typeAt = meta.node_fields.indexOf('type');
const nameAt = meta.node_fields.indexOf('name');
const sizeAt = meta.node_fields.indexOf('self_size');
const types = meta.node_types[typeAt];
const by = new Map();
let total = 0;
for (let n = 0; n < snap.nodes.length; n += F) {
  const type = types[snap.nodes[n + typeAt]];
  const name = type === 'object' || type === 'native' || type === 'closure' ? snap.strings[snap.nodes[n + nameAt]] : '';
  const key = `${type}${name ? ` ${name.slice(0, 60)}` : ''}`;
  const size = snap.nodes[n + sizeAt];
  total += size;
  const e = by.get(key) ?? { size: 0, count: 0 };
  e.size += size;
  e.count++;
  by.set(key, e);
}
const mib = (b) => (b / 2 ** 20).toFixed(2);
process.stdout.write(`${file}: ${mib(total)} MiB in ${snap.nodes.length / F} nodes\n`);
for (const [k, e] of [...by].sort((a, b) => b[1].size - a[1].size).slice(0, TOP)) process.stdout.write(`${mib(e.size).padStart(8)} MiB ${String(e.count).padStart(8)}  ${k}\n`);
