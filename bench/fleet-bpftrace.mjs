#!/usr/bin/env node
// A bpftrace stand-in for bench/metrics-scrape.mjs part C: prints what our program
// (src/probes/program.ts, 3 copies of each counting map) makes bpftrace 0.17 print with -f json for a
// host of FLEET_VMS VMs, one interval a second (or the program's interval), in its exact shape: the attach lines, then per
// interval "exitscope:begin NSECS ACTIVE CLEARED", the active copy's maps, the maps of the copy it
// left (their last print), "exitscope:end"; that copy is cleared after it, the epoch moves on.
// Maps are printed as bpftrace 0.17 does (test/fixtures/bpftrace/*.jsonl): one line per map,
// `": "` and `", "` separators, count maps sorted by value, histograms by their total, each
// histogram's buckets from its lowest to its highest non-empty one, empty ones between included.
// What each interval counts is bench/fleet-intervals.mjs's snapshot() (part B's snapshots), plus
// the 2 MiB regions of the faults.
//   FLEET_VMS (N), FLEET_EVERY (1: every VM moves each second; K: a K-th of them)
//   FLEET_STRAGGLERS (0): events that land in the copy just left after its first print (a probe
//     that read the epoch before it moved), on that many keys each interval: then its last print
//     differs from its first (without them, they are the same text, as on a host where no event
//     races the move)
//   FLEET_CHURN (unset): PER:LIFETIME:UNSEEN, short-lived VMs instead of FLEET_VMS steady ones
//     (bench/fleet-churn.mjs): PER start each interval, each counts LIFETIME intervals; with
//     FLEET_HOST (a bench/fleet-proc.mjs host) their /proc entries are made as they start and removed
//     after their last interval is printed (every UNSEEN-th VM never gets one)
//   FLEET_TOTALS (unset): a file that gets, at exit, what was counted in all (exits by reason, page
//     faults, handler calls): what the reader of the output must add up to
// Its arguments are `-f json PROGRAM`: the program is read only for the key of @exits, by thread
// ([pid, tid, ...]) or, in the exporter's program without --metrics-vcpu, by VM ([pid, 0, ...]: the
// vCPUs' counts of a VM and reason are one key, tid 0). SIGINT: the final dump (every copy), then exit 0.
import { readFileSync, writeFileSync } from 'node:fs';
import { churnOf, churnSnapshot, endingAfter, seenInProc, startingIn } from './fleet-churn.mjs';
import { fakePidOf, snapshot } from './fleet-intervals.mjs';
import { addFakeVm, removeFakeVm } from './fleet-proc.mjs';

const VMS = Number(process.env.FLEET_VMS ?? 100);
const EVERY = Number(process.env.FLEET_EVERY ?? 1);
const STRAGGLERS = Number(process.env.FLEET_STRAGGLERS ?? 0);
const CHURN = churnOf(process.env.FLEET_CHURN);
const HOST = process.env.FLEET_HOST;
const TOTALS = process.env.FLEET_TOTALS;
/** Everything counted: exits by reason (a string key), page faults, handler calls. */
const counted = { exits: {}, faults: 0, handlerCalls: 0 };
const COPIES = 3;
const FIELDS = ['@exits', '@exit_ns', '@faults', '@fault_regions_2m', '@handler_calls', '@handler_ns'];
const HIST = new Set(['@exit_ns', '@handler_ns']);
const PROGRAM = process.argv.at(-1);
const TEXT = PROGRAM !== undefined && PROGRAM.endsWith('.bt') ? readFileSync(PROGRAM, 'utf8') : '';
const BY_VM = /@exits0\[pid, 0, /.test(TEXT);
/** The program's interval probe (exporter -i): interval:s:N or interval:ms:N; 1 s without one. */
const INTERVAL_MS = ((m) => (m ? Number(m[2]) * (m[1] === 's' ? 1000 : 1) : 1000))(/^interval:(s|ms):(\d+)$/m.exec(TEXT));

/** copies[c][field]: Map key -> count, or key -> Map(low -> count) for histograms. */
const copies = Array.from({ length: COPIES }, () => Object.fromEntries(FIELDS.map((f) => [f, new Map()])));
const add = (m, key, n) => m.set(key, (m.get(key) ?? 0) + n);
const addHist = (m, key, buckets) => {
  let h = m.get(key);
  if (!h) m.set(key, (h = new Map()));
  for (const [low, n] of buckets) h.set(low, (h.get(low) ?? 0) + n);
};

function count(copy, i) {
  const s = CHURN ? churnSnapshot(i, CHURN, fakePidOf) : snapshot(VMS, i, EVERY, fakePidOf);
  const c = copies[copy];
  for (const e of s.exits) {
    add(c['@exits'], `${e.pid},${BY_VM ? 0 : e.tid},${e.isa},${e.reason}`, e.n);
    counted.exits[e.reason] = (counted.exits[e.reason] ?? 0) + e.n;
  }
  for (const e of s.faults) counted.faults += e.n;
  for (const e of s.handlers) counted.handlerCalls += e.n;
  for (const e of s.exitNs) addHist(c['@exit_ns'], `${e.pid},${e.isa * 2 ** 32 + e.reason}`, e.b);
  for (const e of s.faults) {
    add(c['@faults'], `${e.pid},${e.code}`, e.n);
    add(c['@fault_regions_2m'], `${e.pid},${e.code === 2 ? 4 + (i % 3) : 1}`, e.n);
  }
  for (const e of s.handlers) {
    add(c['@handler_calls'], `${e.pid},${e.h}`, e.n);
    addHist(c['@handler_ns'], `${e.pid},${e.h}`, e.b);
  }
}

const lowOf = (slot) => (slot === 0 ? 0 : 2 ** (slot - 1));
const slotOf = (low) => (low === 0 ? 0 : Math.log2(low) + 1);
function histText(h) {
  const slots = [...h.keys()].map(slotOf);
  const lo = Math.min(...slots);
  const hi = Math.max(...slots);
  const parts = [];
  for (let s = lo; s <= hi; s++) {
    const low = lowOf(s);
    parts.push(`{"min": ${low}, "max": ${s === 0 ? 0 : 2 * low - 1}, "count": ${h.get(low) ?? 0}}`);
  }
  return `[${parts.join(', ')}]`;
}
const total = (h) => {
  let n = 0;
  for (const v of h.values()) n += v;
  return n;
};

/** One print(@mapC): nothing for an empty map, as bpftrace 0.17. */
function print(copy, field, out) {
  const m = copies[copy][field];
  if (m.size === 0) return;
  const hist = HIST.has(field);
  const entries = [...m].sort(hist ? (a, b) => total(a[1]) - total(b[1]) : (a, b) => a[1] - b[1]);
  const body = entries.map(([k, v]) => `"${k}": ${hist ? histText(v) : v}`).join(', ');
  out.push(`{"type": "${hist ? 'hist' : 'map'}", "data": {"${field}${copy}": {${body}}}}`);
}
const printf = (text) => `{"type": "printf", "data": "${text}\\n"}`;

let t = 5e9;
let epoch = 0;
let closing = false;
let i = 0;
function interval() {
  if (CHURN && HOST) for (let { from: v, to } = startingIn(i, CHURN); v < to; v++) if (seenInProc(v, CHURN)) addFakeVm(HOST, v);
  const ending = CHURN ? endingAfter(i, CHURN) : undefined;
  count(epoch, i++);
  t += INTERVAL_MS * 1e6;
  const prev = (epoch + COPIES - 1) % COPIES;
  const out = [printf(`exitscope:begin ${t} ${epoch} ${closing ? prev : '-'}`)];
  for (const f of FIELDS) print(epoch, f, out);
  if (closing) for (const f of FIELDS) print(prev, f, out);
  out.push(printf('exitscope:end'));
  if (closing) for (const f of FIELDS) copies[prev][f].clear();
  // late events into the copy being left: its last print, next interval, differs from this one
  if (STRAGGLERS > 0) {
    const m = copies[epoch]['@exits'];
    let k = 0;
    for (const key of m.keys()) {
      if (k++ >= STRAGGLERS) break;
      add(m, key, 1);
    }
  }
  epoch = (epoch + 1) % COPIES;
  closing = true;
  process.stdout.write(`${out.join('\n')}\n`);
  if (ending && HOST) for (let v = Math.max(0, ending.from); v < ending.to; v++) if (seenInProc(v, CHURN)) removeFakeVm(HOST, v);
}

process.on('SIGINT', () => {
  clearInterval(timer);
  const out = [printf(`exitscope:final ${t + 1}`)];
  for (let c = 0; c < COPIES; c++) for (const f of FIELDS) print(c, f, out);
  out.push(printf('exitscope:end'));
  if (TOTALS) writeFileSync(TOTALS, `${JSON.stringify({ intervals: i, ...counted })}\n`);
  process.stdout.write(`${out.join('\n')}\n`, () => process.exit(0));
});
process.stdout.write(`{"type": "attached_probes", "data": {"probes": 17}}\n${printf(`exitscope:attached ${t}`)}\n`);
const timer = setInterval(interval, INTERVAL_MS);
