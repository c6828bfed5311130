#!/usr/bin/env node
// /metrics at fleet scale: scrape time and body size at 1, 100 and 1,000 VMs x 12 exit reasons
// (2 vCPUs each; synthetic streams built from the real message schema: the hello of a lab
// recording, vm messages, snapshots whose every series changes every interval), and the exporter's
// CPU at one scrape a second.
//
// A. In this process: the model fed 10 intervals, then 20 scrapes of what /metrics serves
//    (metricsEndpoint) and, for the same model, of prom-client's own formatter (the reference).
// B. A child process running the exporter's HTTP server and model (no bpftrace: the collector's own
//    cost is section 1's), four ways: idle (the floor), fed one snapshot a second, scraped once a
//    second over HTTP by this process, both; N seconds each; its CPU is its own process.cpuUsage().
//
//   node bench/metrics-scrape.mjs [--scrapes 30] [--no-cpu]   (npm run build first)
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const dist = (p) => import(join(repo, 'dist/src', p));
const { parseRecording } = await dist('recording/recording.js');
const { MetricsModel } = await dist('metrics/model.js');
const { metricsEndpoint, metricsRegistry } = await dist('metrics/exposition.js');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SCRAPES = arg('scrapes', 30);

const hello = parseRecording(readFileSync(join(repo, 'test/fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages[0];
// 12 SVM reasons a busy guest takes: IOIO, HLT, NPF, CPUID, MSR, INTR, NMI, RDTSC, PAUSE, VINTR, XSETBV, RDTSCP
const REASONS = [0x7b, 0x78, 0x400, 0x72, 0x7c, 0x60, 0x61, 0x6e, 0x77, 0x64, 0x8d, 0x87];
const pidOf = (v) => 10_000 + v * 10;

function vmMessages(vms) {
  return Array.from({ length: vms }, (_, v) => ({ type: 'vm', event: 'appeared', t: 0, pid: pidOf(v), name: `ci-runner-${v}`, source: 'qemu', vcpus: { [pidOf(v) + 1]: 0, [pidOf(v) + 2]: 1 } }));
}

/** Interval i of a host with `vms` VMs: every (VM, vCPU, reason) counts, latencies over 9 log2 buckets (16 us..4 ms as in the lab). */
function snapshot(vms, i) {
  const s = { type: 'snapshot', seq: i, t: (i + 1) * 1000, ms: 1000, exits: [], exitNs: [], faults: [], regions: [], handlers: [] };
  for (let v = 0; v < vms; v++) {
    const pid = pidOf(v);
    REASONS.forEach((reason, r) => {
      const n = 50 + ((v * 7 + r * 13 + i) % 200);
      s.exits.push({ pid, tid: pid + 1, isa: 2, reason, n }, { pid, tid: pid + 2, isa: 2, reason, n: n >> 1 });
      s.exitNs.push({ pid, isa: 2, reason, b: [[16384, n >> 2], [32768, n], [65536, n >> 1], [131072 * 2 ** ((v + r + i) % 5), 1 + (n >> 1)]] });
    });
    s.faults.push({ pid, code: 0x2, n: 40 + (i % 7) }, { pid, code: 0x9, n: 3 });
    s.handlers.push({ pid, h: 0, n: 43 + (i % 7), b: [[4096, 30], [8192, 13 + (i % 7)]] });
  }
  return s;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Wall time and this process's CPU time of f, in ms (CPU time is what a busy machine does not inflate). */
const ms = (f) => {
  const t = process.hrtime.bigint();
  const c = process.cpuUsage();
  return f().then(() => {
    const u = process.cpuUsage(c);
    return { wall: Number(process.hrtime.bigint() - t) / 1e6, cpu: (u.user + u.system) / 1000 };
  });
};

// ---- B's child: the exporter's server and model, fed one snapshot a second ----
if (process.argv[2] === 'exporter') {
  const { MetricsService } = await dist('metrics/service.js');
  const { ExporterServer } = await dist('exporter/http-server.js');
  const [vms, maxVms, feed] = [Number(process.argv[3]), Number(process.argv[4]), process.argv[5] === 'feed'];
  const service = new MetricsService({ maxVms });
  service.apply(hello);
  for (const m of vmMessages(vms)) service.apply(m);
  let i = 0;
  for (; i < 3; i++) service.apply(snapshot(vms, i));
  // the stream's snapshots, made ahead (making them is the collector's work, not the exporter's)
  const ahead = feed ? Array.from({ length: 8 }, (_, k) => snapshot(vms, i + k)) : [];
  if (feed) setInterval(() => service.apply(ahead[i++ % ahead.length]), 1000);
  const server = new ExporterServer({ host: '127.0.0.1', port: 0, service });
  const { port } = await server.listen();
  process.on('message', () => process.send({ cpu: process.cpuUsage(), rss: process.memoryUsage().rss }));
  process.send({ port });
} else {
  const results = { node: process.version, cpuModel: cpus()[0]?.model, cores: cpus().length, loadavgBefore: loadavg(), scrape: [], cpu: [] };

  // ---- A: scrape time and size ----
  for (const [vms, maxVms] of [[1, 500], [100, 500], [1000, 500], [1000, 1000]]) {
    const model = new MetricsModel({ maxVms });
    model.apply(hello);
    for (const m of vmMessages(vms)) model.apply(m);
    for (let i = 0; i < 10; i++) model.apply(snapshot(vms, i));
    const endpoint = metricsEndpoint(model);
    const registry = metricsRegistry(model);
    let body;
    const fast = [];
    // as the HTTP route does: the body's buffer is given back once sent (the next scrape reuses it)
    for (let k = 0; k < 20; k++) {
      fast.push(await ms(async () => (body = await endpoint.body())));
      if (k < 19) endpoint.release(body);
    }
    let ref;
    const promClient = [];
    for (let k = 0; k < 5; k++) promClient.push(await ms(async () => (ref = await registry.metrics())));
    const text = body.toString('utf8');
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
    const series = text.split('\n').filter((l) => l.startsWith('exitscope_')).length;
    const wall = (xs) => xs.map((x) => x.wall);
    const cpu = (xs) => xs.map((x) => x.cpu);
    const row = { vms, maxVms, reasons: REASONS.length, bytes: body.length, lines, exitscopeSeries: series, medianMs: median(wall(fast)), maxMs: Math.max(...wall(fast)), cpuMedianMs: median(cpu(fast)), promClientMedianMs: median(wall(promClient)), promClientCpuMedianMs: median(cpu(promClient)), sameText: ref.replace(/^(process|nodejs)_[\s\S]*$/m, '') === text.replace(/^(process|nodejs)_[\s\S]*$/m, '') };
    results.scrape.push(row);
    console.log(`A ${vms} VMs (cap ${maxVms}): ${(row.bytes / 1e6).toFixed(2)} MB, ${lines} lines; scrape median ${row.medianMs.toFixed(1)} ms wall (max ${row.maxMs.toFixed(1)}), ${row.cpuMedianMs.toFixed(1)} ms CPU; prom-client's formatter ${row.promClientMedianMs.toFixed(1)} ms wall, ${row.promClientCpuMedianMs.toFixed(1)} ms CPU`);
  }

  // ---- B: the exporter's CPU at one scrape a second ----
  const scrape = (port) =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
  if (!process.argv.includes('--no-cpu')) {
    // what the exporter adds per second: ingest (one snapshot), serve (one scrape), both
    for (const [vms, maxVms] of [[100, 500], [1000, 500], [1000, 1000]]) {
      for (const [feed, scrapes] of [[false, false], [true, false], [false, true], [true, true]]) {
        const child = fork(new URL(import.meta.url).pathname, ['exporter', String(vms), String(maxVms), feed ? 'feed' : 'still'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        const { port } = await new Promise((r) => child.once('message', r));
        const usage = () => new Promise((r) => { child.once('message', r); child.send('cpu'); });
        if (scrapes) await scrape(port); // warm
        await new Promise((r) => setTimeout(r, 2000));
        const before = await usage();
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < SCRAPES; k++) {
          await new Promise((r) => setTimeout(r, 1000));
          if (scrapes) await scrape(port);
        }
        const after = await usage();
        const wall = Number(process.hrtime.bigint() - t0) / 1e9;
        child.kill('SIGKILL');
        const cpu = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1e6;
        const what = feed && scrapes ? 'ingest + scrape' : feed ? 'ingest only' : scrapes ? 'scrape only' : 'idle (the floor: Node, prom-client\'s event-loop monitor)';
        const row = { vms, maxVms, what, seconds: SCRAPES, wallSeconds: wall, cpuShareOfOneCore: cpu / wall, rssBytes: after.rss };
        results.cpu.push(row);
        console.log(`B ${vms} VMs (cap ${maxVms}), ${what}: ${(100 * row.cpuShareOfOneCore).toFixed(2)}% of a core over ${SCRAPES} s, RSS ${(after.rss / 1e6).toFixed(0)} MB`);
      }
    }
  }
  results.loadavgAfter = loadavg();
  writeFileSync(join(repo, 'bench/results/metrics-scrape.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log('bench/results/metrics-scrape.json written');
}
