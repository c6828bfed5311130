#!/usr/bin/env node
// `exitscope run`'s memory over many thousands of short-lived VMs (issue 11: a CI farm; the lab's
// soak, test/e2e/soak-lab.test.ts, natively and faster). What `run` runs, in this process: startLiveIn
// (the Collector reading a bpftrace's output with its SnapshotReader, the VmTracker, the Aggregate,
// the RecordingWriter of run -o), then live.stop() and the report (buildReport, formatReport -f json),
// as src/commands/run.ts does once COMMAND ends. Its bpftrace is bench/fleet-bpftrace.mjs in
// FLEET_CHURN mode: PER VMs start each interval and count for LIFETIME intervals, as the lab's
// workload counts (bench/fleet-churn.mjs); their /proc entries and KVM debugfs directories are made
// and removed in a fake host (bench/fleet-proc.mjs, this process' reads redirected there), every
// UNSEEN-th VM never having one (it ended between two of the tracker's looks, as most of the soak's did).
//
// Along the way: process.memoryUsage() (rss, heapTotal, heapUsed, external, arrayBuffers) every
// --sample-every intervals; at each --checkpoints VM count, a full GC (node --expose-gc) and the same
// numbers after it, and with --heap-snapshots a heap snapshot (v8.writeHeapSnapshot) into --out
// (compare two with bench/heap-diff.mjs; writing one takes the RSS up by tens of MB for the rest of
// the run, so the RSS series is read from a run without them). At the end: the report's totals against what the stand-in counted (exact, or
// the run fails), and bench/results/run-memory.json.
//
//   npm run build && node --expose-gc bench/run-memory.mjs [--vms 20000] [--per 15] [--lifetime 3]
//       [--unseen 2] [--interval 200] [--checkpoints 2000,10000,20000] [--sample-every 25] [--out DIR]
//       [--heap-snapshots] [--build DIR] [--results bench/results/run-memory.json]   (another build's dist, e.g. main's worktree, for a before/after)
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { CHURN_REASONS } from './fleet-churn.mjs';
import { makeFakeHost, redirectFs } from './fleet-proc.mjs';
import { within } from './lib/deadline.mjs';

const repo = new URL('..', import.meta.url).pathname;
const word = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const VMS = Number(word('vms', 20_000));
const PER = Number(word('per', 15));
const LIFETIME = Number(word('lifetime', 3));
const UNSEEN = Number(word('unseen', 2));
const INTERVAL_MS = Number(word('interval', 200));
const CHECKPOINTS = word('checkpoints', '2000,10000,20000').split(',').map(Number).filter((n) => n > 0);
const SAMPLE_EVERY = Number(word('sample-every', 25));
const OUT = word('out', join(tmpdir(), `exitscope-run-memory-${process.pid}`));
const BUILD = word('build', repo);
const HEAP_SNAPSHOTS = process.argv.includes('--heap-snapshots');
const gc = globalThis.gc;
if (!gc) process.stderr.write('run-memory: without node --expose-gc, the checkpoints take no full GC of their own (the heap snapshot still does one)\n');
mkdirSync(OUT, { recursive: true });

const host = makeFakeHost(0);
process.on('exit', () => rmSync(host, { recursive: true, force: true }));
redirectFs(host);
const totalsFile = join(OUT, 'counted.json');
Object.assign(process.env, { FLEET_CHURN: `${PER}:${LIFETIME}:${UNSEEN}`, FLEET_HOST: host, FLEET_TOTALS: totalsFile });
const dist = (p) => import(join(BUILD, 'dist/src', p));
const { startLiveIn } = await dist('commands/live.js');
const { buildReport } = await dist('report/report.js');
const { formatReport } = await dist('report/format.js');

// a machine that can trace (as test/unit/support/fake-caps.ts), bpftrace being the stand-in
const caps = { root: true, bpftrace: { path: join(repo, 'bench/fleet-bpftrace.mjs'), version: '0.17.0', major: 0, minor: 17 }, tracefs: '/sys/kernel/tracing', tracepoints: { kvm_exit: ['isa', 'exit_reason'], kvm_entry: ['rip'], kvm_page_fault: ['fault_address', 'error_code'] }, kvmLoaded: true, vendor: 'amd', tdp: true, kprobes: true, btf: true, handlers: ['kvm_tdp_page_fault'], kernel: 'bench', checks: [] };

const mb = (b) => +(b / 2 ** 20).toFixed(2);
const usage = () => {
  const u = process.memoryUsage();
  return { rssMiB: mb(u.rss), heapTotalMiB: mb(u.heapTotal), heapUsedMiB: mb(u.heapUsed), externalMiB: mb(u.external), arrayBuffersMiB: mb(u.arrayBuffers) };
};
const samples = [];
const checkpoints = [];
const t0 = Date.now();
/** VMs seen so far: the highest VM index in the counts + 1 (no per-VM state here: this harness must not grow). */
let seen = 0;
let snapshots = 0;
let nextCheckpoint = 0;
let checkpointBusy = false;
let finish;
let failed;
const done = new Promise((r, j) => ((finish = r), (failed = j)));
done.catch(() => undefined); // an early end is reported by the wait on it below
/** The collector's last error message: why it ended, if it ends before every VM was seen. */
let lastError = '';

function checkpoint(at) {
  checkpointBusy = true;
  // outside the collector's callback: a heap snapshot takes seconds
  setImmediate(() => {
    gc?.();
    const afterGc = usage();
    const file = HEAP_SNAPSHOTS ? join(OUT, `run-${at}.heapsnapshot`) : undefined;
    if (file) v8.writeHeapSnapshot(file);
    const row = { vms: at, seenVms: seen, snapshots, seconds: (Date.now() - t0) / 1000, [gc ? 'afterGc' : 'now']: afterGc, ...(file ? { heapSnapshot: file, heapSnapshotMiB: mb(statSync(file).size) } : {}) };
    checkpoints.push(row);
    console.log(`checkpoint ${at} VMs (${snapshots} intervals, ${row.seconds.toFixed(0)} s): ${gc ? 'after a full GC ' : ''}${JSON.stringify(afterGc)}${file ? `; ${file}` : ''}`);
    checkpointBusy = false;
    if (at >= VMS) finish();
  });
}

const onMessage = (m) => {
  if (m.type === 'error') lastError = `${m.code}: ${m.message}`;
  // the collection ended by itself (its bpftrace stand-in died, restarts given up): no more VMs come
  if (m.type === 'end') failed(new Error(`the collection ended after ${snapshots} intervals, ${seen} of ${VMS} VMs seen${lastError ? `: ${lastError}` : ''}`));
  if (m.type !== 'snapshot') return;
  snapshots++;
  for (const e of m.exits) seen = Math.max(seen, (e.pid - 5_000_000) / 10 + 1);
  if (snapshots % SAMPLE_EVERY === 0) {
    const s = { snapshots, vms: seen, seconds: (Date.now() - t0) / 1000, ...usage() };
    samples.push(s);
    console.log(`${String(seen).padStart(6)} VMs: ${JSON.stringify(s)}`);
  }
  if (!checkpointBusy && nextCheckpoint < CHECKPOINTS.length && seen >= CHECKPOINTS[nextCheckpoint]) checkpoint(CHECKPOINTS[nextCheckpoint++]);
  if (seen >= VMS && nextCheckpoint >= CHECKPOINTS.length && !checkpointBusy) finish();
};

const recordingPath = join(OUT, 'exitscope-run.jsonl');
// the stand-in attaches at once (no program to compile): 2 minutes is a hang (the process exits on
// the error; exitscope's exit hook kills the stand-in)
const live = await within('starting the collector (its bpftrace stand-in attaching)', 120_000, startLiveIn({ interval: INTERVAL_MS, pid: [], reason: [], output: recordingPath, notify: (l) => console.log(l) }, onMessage, caps, [], [], undefined));
console.log(`run-memory: ${VMS} VMs, ${PER} start every ${INTERVAL_MS} ms and count ${LIFETIME} intervals, 1 in ${UNSEEN} never in /proc; build ${BUILD}`);
// the stand-in prints on a timer: the run takes its intervals' time; 4 times that plus 5 minutes
// (and 2 minutes a heap snapshot) is a collector that fell behind for good or stopped
const intervals = Math.ceil(VMS / PER) + LIFETIME;
const collectMs = 300_000 + 4 * intervals * INTERVAL_MS + (HEAP_SNAPSHOTS ? 120_000 * CHECKPOINTS.length : 0);
await within(`collecting ${VMS} VMs (${intervals} intervals of ${INTERVAL_MS} ms)`, collectMs, done, { seen: () => `${snapshots} intervals, ${seen} VMs, ${checkpoints.length} of ${CHECKPOINTS.length} checkpoints${lastError ? `; the last error: ${lastError}` : ''}` });
// as run.ts once COMMAND has ended: stop (final totals, the recording closed), the report; the
// collector SIGKILLs its bpftrace 10 s after SIGINT: 2 minutes is a hang
await within('stopping the collector (final totals, the recording closed)', 120_000, live.stop());
const report = buildReport(live.agg);
const text = formatReport(report, 'json');
const end = usage();
console.log(`end (report built, ${text.length} bytes): ${JSON.stringify(end)}`);

// exact: the report's totals against what the stand-in counted
const counted = JSON.parse(readFileSync(totalsFile, 'utf8'));
const byReason = Object.fromEntries(CHURN_REASONS.map((r) => [r, report.exits.filter((e) => e.reason === r).reduce((a, e) => a + e.count, 0)]));
const exact = {
  totalExits: report.totalExits === Object.values(counted.exits).reduce((a, n) => a + n, 0),
  byReason: CHURN_REASONS.every((r) => byReason[r] === counted.exits[r]),
  pageFaults: report.pageFaults.count === counted.faults,
  handlerCalls: report.handlers.reduce((a, h) => a + h.count, 0) === counted.handlerCalls,
};
const named = report.vms.filter((v) => !/^pid \d+$/.test(v.name)).length;
const summary = {
  node: process.version,
  build: BUILD,
  vms: VMS,
  per: PER,
  lifetime: LIFETIME,
  unseenEvery: UNSEEN,
  intervalMs: INTERVAL_MS,
  seconds: (Date.now() - t0) / 1000,
  intervals: snapshots,
  recording: { lines: live.recording?.lines, bytes: statSync(recordingPath).size },
  report: { totalExits: report.totalExits, vmRows: report.vms.length, namedRows: named, goneRows: report.vms.filter((v) => v.gone).length, bytes: text.length },
  model: { vmsKept: live.agg.vms.size, foldedVms: live.agg.foldedVms, exitKeys: live.agg.total.exits.size, exitNsKeys: live.agg.total.exitNs.size, faultKeys: live.agg.total.faults.size },
  counted,
  exact,
  samples,
  checkpoints,
  end,
};
writeFileSync(join(repo, word('results', 'bench/results/run-memory.json')), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`report: ${report.vms.length} VM rows (${named} named, ${summary.report.goneRows} gone); model keeps ${summary.model.vmsKept} VMs (${summary.model.foldedVms} folded), ${summary.model.exitKeys} exit keys, ${summary.model.exitNsKeys} latency keys`);
console.log(`exact: ${JSON.stringify(exact)}; ${word('results', 'bench/results/run-memory.json')} written`);
rmSync(recordingPath, { force: true });
if (!Object.values(exact).every(Boolean)) process.exitCode = 1;
