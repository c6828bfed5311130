#!/usr/bin/env node
// Parser throughput: how fast the collector turns bpftrace's output into snapshots,
// on a large input shaped like real lab output (test/fixtures/bpftrace/*.jsonl: same
// maps, key shapes and histogram layout), scaled to many VMs and vCPUs.
//
//   node bench/parser.mjs [--vms 50] [--vcpus 8] [--frames 60]      (npm run build first)
//
// Compared in one run, on the same bytes:
//   json.parse   JSON.parse of every line and nothing else: the floor for any -f json reader
//   exitscope    BpftraceOutputParser (frames) + DeltaTracker (per-interval snapshot messages)
//   text         the same data in bpftrace's default text output, read by a minimal line parser
//                (bench/text-format.mjs): what reading without -f json would cost
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { textLines, parseText } from './text-format.mjs';

const repo = new URL('..', import.meta.url).pathname;
const { BpftraceOutputParser } = await import(join(repo, 'dist/src/collector/bpftrace-output.js'));
const { DeltaTracker } = await import(join(repo, 'dist/src/collector/deltas.js'));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const VMS = arg('vms', 50);
const VCPUS = arg('vcpus', 8);
const FRAMES = arg('frames', 60);
// exit reasons seen in the lab on SVM (mix workload), and fault codes seen there
const REASONS = [96, 114, 120, 123, 124, 1024, 78, 0x7c, 0x6e, 0x77, 0x64, 0x81];
const CODES = ['4294967302', '8589934598', '4294967316', '4294967311', '4294967297', '8589934599'];

// Builds the cumulative maps of frame f and emits them as bpftrace would, in JSON and in text.
function frameData(f) {
  const exits = {};
  const exitNs = {};
  const faults = {};
  const regions = {};
  const hist = (scale) => Array.from({ length: 8 }, (_, i) => ({ min: 2 ** (13 + i), max: 2 ** (14 + i) - 1, count: Math.round(scale * (f + 1) / (i + 1)) }));
  for (let v = 0; v < VMS; v++) {
    const pid = 1000 + v * 100;
    for (let c = 0; c < VCPUS; c++) for (const r of REASONS) exits[`${pid},${pid + 2 + c},2,${r}`] = (f + 1) * (r + c + 1) * 37;
    for (const r of REASONS) exitNs[`${pid},${2 * 2 ** 32 + r}`] = hist(r);
    for (const code of CODES) faults[`${pid},${code}`] = (f + 1) * 11;
    for (let g = 0; g < 64; g++) regions[`${pid},${g}`] = (f + 1) * (g + 1);
  }
  const handlerCalls = {};
  const handlerNs = {};
  for (let v = 0; v < VMS; v++) {
    handlerCalls[`${1000 + v * 100},0`] = (f + 1) * 50;
    handlerNs[`${1000 + v * 100},0`] = hist(50);
  }
  return { tNs: 1e9 * (f + 1), exits, exitNs, faults, regions, handlerCalls, handlerNs };
}

function jsonLines(d, final) {
  const p = (s) => JSON.stringify({ type: 'printf', data: s });
  return [
    p(`exitscope:${final ? 'final' : 'begin'} ${d.tNs}\n`),
    JSON.stringify({ type: 'map', data: { '@exits': d.exits } }),
    JSON.stringify({ type: 'hist', data: { '@exit_ns': d.exitNs } }),
    JSON.stringify({ type: 'map', data: { '@faults': d.faults } }),
    JSON.stringify({ type: 'map', data: { '@fault_regions_2m': d.regions } }),
    JSON.stringify({ type: 'map', data: { '@handler_calls': d.handlerCalls } }),
    JSON.stringify({ type: 'hist', data: { '@handler_ns': d.handlerNs } }),
    p('exitscope:end\n'),
  ];
}

const frames = Array.from({ length: FRAMES }, (_, f) => frameData(f));
const json = `${frames.flatMap((d, f) => jsonLines(d, f === FRAMES - 1)).join('\n')}\n`;
const text = `${frames.flatMap((d, f) => textLines(d, f === FRAMES - 1)).join('\n')}\n`;
const jsonRecords = json.split('\n').length - 1;
const keysPerFrame = Object.keys(frames[0].exits).length + Object.keys(frames[0].exitNs).length + Object.keys(frames[0].faults).length + Object.keys(frames[0].regions).length + 2 * VMS;
frames.length = 0; // let the generator's objects go before measuring

const CHUNK = 64 * 1024; // what a pipe hands over at a time
const chunks = (s) => {
  const out = [];
  for (let i = 0; i < s.length; i += CHUNK) out.push(s.slice(i, i + CHUNK));
  return out;
};
const jsonChunks = chunks(json);
const textChunks = chunks(text);

function runJsonParseOnly() {
  // the same line splitting as the parser (pending pieces, only new chunks searched), then JSON.parse
  let n = 0;
  let pending = [];
  for (const data of jsonChunks) {
    let start = 0;
    for (let nl = data.indexOf('\n'); nl >= 0; nl = data.indexOf('\n', start)) {
      pending.push(data.slice(start, nl));
      JSON.parse(pending.length === 1 ? pending[0] : pending.join(''));
      pending = [];
      n++;
      start = nl + 1;
    }
    if (start < data.length) pending.push(data.slice(start));
  }
  return n;
}

function runExitscope() {
  const parser = new BpftraceOutputParser();
  const deltas = new DeltaTracker();
  let snapshots = 0;
  let entries = 0;
  const out = (e) => {
    if (e.kind !== 'frame') return;
    const d = deltas.apply(e.frame);
    entries += d.exits.length + d.exitNs.length + d.faults.length + d.regions.length + d.handlers.length;
    snapshots++;
  };
  for (const c of jsonChunks) parser.push(c, out);
  parser.end(out);
  if (snapshots !== FRAMES) throw new Error(`exitscope: ${snapshots} snapshots, expected ${FRAMES}`);
  return entries;
}

function runExitscopeParseOnly() {
  const parser = new BpftraceOutputParser();
  let n = 0;
  const out = (e) => {
    if (e.kind === 'frame') n++;
  };
  for (const c of jsonChunks) parser.push(c, out);
  parser.end(out);
  if (n !== FRAMES) throw new Error(`exitscope parse: ${n} frames, expected ${FRAMES}`);
  return n;
}

function runText() {
  const n = parseText(textChunks);
  if (n !== FRAMES) throw new Error(`text: ${n} frames, expected ${FRAMES}`);
  return n;
}

function measure(name, fn, bytes) {
  fn(); // warm up
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const ms = times[2];
  return { name, medianMs: +ms.toFixed(1), keysPerSecond: Math.round((keysPerFrame * FRAMES) / (ms / 1000)), framesPerSecond: +(FRAMES / (ms / 1000)).toFixed(1), mbPerSecond: +(bytes / 1e6 / (ms / 1000)).toFixed(1), msPerFrame: +(ms / FRAMES).toFixed(2) };
}

const results = [
  measure('json.parse', runJsonParseOnly, json.length),
  measure('exitscope parser', runExitscopeParseOnly, json.length),
  measure('text parser', runText, text.length),
  measure('exitscope parser + deltas', runExitscope, json.length),
];
const base = results[0].medianMs;
for (const r of results) r.vsJsonParse = +(r.medianMs / base).toFixed(2);
global.gc?.();
const summary = {
  date: new Date().toISOString(),
  node: process.version,
  input: { vms: VMS, vcpusPerVm: VCPUS, frames: FRAMES, keysPerFrame, jsonRecords, jsonBytes: json.length, textBytes: text.length },
  results,
  // at one frame a second, the share of one core the collector spends reading bpftrace
  cpuShareAt1Hz: +(results[3].msPerFrame / 1000).toFixed(4),
  heapUsedMiB: +(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1),
};
writeFileSync(join(repo, 'bench/results/parser.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`input: ${VMS} VMs x ${VCPUS} vCPUs x ${REASONS.length} reasons = ${keysPerFrame} keys a frame, ${FRAMES} frames, ${(json.length / 1e6).toFixed(1)} MB of -f json (${jsonRecords} records), ${(text.length / 1e6).toFixed(1)} MB as text`);
console.log('| reader | median ms | map keys/s | frames/s | MB/s | ms/frame | vs JSON.parse |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.name} | ${r.medianMs} | ${r.keysPerSecond} | ${r.framesPerSecond} | ${r.mbPerSecond} | ${r.msPerFrame} | ${r.vsJsonParse}x |`);
console.log(`collector CPU for reading at 1 frame/s: ${(summary.cpuShareAt1Hz * 100).toFixed(2)}% of a core`);
