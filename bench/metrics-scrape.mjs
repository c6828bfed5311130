#!/usr/bin/env node
// /metrics at fleet scale: scrape time and body size at 1, 100 and 1,000 VMs x 12 exit reasons
// (2 vCPUs each; synthetic streams built from the real message schema: the hello of a lab
// recording, vm messages, snapshots in which every series of the VMs that moved changes), and the
// exporter's CPU at one scrape a second.
//
// A. In this process: the model fed 10 intervals, then 20 scrapes of what /metrics serves
//    (metricsEndpoint) with one more interval applied before each (every series moved: the worst
//    case, nothing is copied), 20 with nothing applied (every series copied from the last body),
//    and 5 of prom-client's own formatter on the same model (the reference, the same text).
// B. A child process running the exporter's HTTP server and model (no bpftrace: the collector's own
//    cost is section 1's), four ways: idle (the floor), fed one snapshot a second, scraped once a
//    second over HTTP by this process, both; after --warmup seconds of the same (an exporter runs
//    for months: V8 compiles its hot code in the first seconds, and the first scrape writes every
//    line's prefix), N seconds each; its CPU is its own process.cpuUsage() (all its threads).
//    In the snapshots every VM moves every second (the worst case), or with --moving-too K also
//    1/K of the VMs (VM v moves in the intervals i with v % K = i % K: each VM every K seconds).
//
// C. The whole `exitscope exporter` (src/commands/exporter.ts, as a user runs it, on a machine that can
//    trace): its bpftrace is bench/fleet-bpftrace.mjs, which prints what our program makes bpftrace
//    0.17 print for the same intervals as B (3 copies of each map, the active one and the one it
//    left, cleared after), so the exporter's own collector reads the bytes, takes deltas, names the
//    VMs (the real VmTracker on a /proc and a KVM debugfs of those VMs: bench/fleet-proc.mjs), feeds
//    its model and serves /metrics, scraped once a second. Its process CPU, as B. --before DIR runs
//    the same cells on another build (DIR/dist, e.g. main's) one after the other, cell by cell.
//
//   node bench/metrics-scrape.mjs [--scrapes 20] [--warmup 10] [--moving-too 4] [--no-cpu]   (npm run build first)
//   node bench/metrics-scrape.mjs --only C [--before DIR] [--no-scrape] [--cells VMS:EVERY:LATE[:MS],...]   C alone (MS: the exporter's -i; LATE: keys an
//       interval that change in the copy just left, so that its last print differs from its first)
//   node --cpu-prof bench/metrics-scrape.mjs --profile DIR ...   B's and C's children write CPU profiles into DIR
//   node bench/metrics-scrape.mjs --only C --alloc-profile DIR ...   C's child writes what it allocates after the warm-up
//       (collected objects included) as DIR/alloc-PID.heapprofile (node bench/alloc-top.mjs FILE reads it)
//   BENCH_CHILD_FLAGS='--trace-gc' node bench/metrics-scrape.mjs --only C ...   more node flags for C's exporter
import { fork } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pidOf, REASONS, snapshot } from './fleet-intervals.mjs';
import { exitOf, nextMessage, retryOnce, sigkill, within } from './lib/deadline.mjs';

const repo = new URL('..', import.meta.url).pathname;
const dist = (p) => import(join(repo, 'dist/src', p));
const { parseRecording } = await dist('recording/recording.js');
const { MetricsModel } = await dist('metrics/model.js');
const { metricsEndpoint, metricsRegistry } = await dist('metrics/exposition.js');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SCRAPES = arg('scrapes', 20);
const WARMUP = arg('warmup', 10);
const MOVING_TOO = arg('moving-too', 4);
const word = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const PROFILE_DIR = word('profile');
/** --only C: part C alone (A and B take about 16 minutes). */
const ONLY = word('only');
/** --before DIR: part C also runs the exporter of another build (DIR/dist: main's, for a before/after), cell by cell. */
const BEFORE = word('before');
if (word('alloc-profile')) process.env.BENCH_ALLOC_PROFILE_DIR = word('alloc-profile');

const hello = parseRecording(readFileSync(join(repo, 'test/fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages[0];
function vmMessages(vms) {
  return Array.from({ length: vms }, (_, v) => ({ type: 'vm', event: 'appeared', t: 0, pid: pidOf(v), name: `ci-runner-${v}`, source: 'qemu', vcpus: { [pidOf(v) + 1]: 0, [pidOf(v) + 2]: 1 } }));
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

// ---- C's child: `exitscope exporter` itself (the build in argv[3]), its bpftrace a stand-in ----
if (process.argv[2] === 'collector') {
  const [build, vms, maxVms, port, intervalMs] = [process.argv[3], Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]), Number(process.argv[7] ?? 1000)];
  // the bench gone (killed, or its IPC channel closed), so is this child (and its bpftrace stand-in with it)
  process.on('disconnect', () => process.exit(1));
  const { makeFakeHost, redirectFs } = await import('./fleet-proc.mjs');
  const host = makeFakeHost(vms);
  process.on('exit', () => rmSync(host, { recursive: true, force: true }));
  redirectFs(host);
  const { exporterCommand } = await import(join(build, 'dist/src/commands/exporter.js'));
  const { startLiveIn } = await import(join(build, 'dist/src/commands/live.js'));
  // a machine that can trace (as test/unit/support/fake-caps.ts), bpftrace being the stand-in
  const caps = { root: true, bpftrace: { path: join(repo, 'bench/fleet-bpftrace.mjs'), version: '0.17.0', major: 0, minor: 17 }, tracefs: '/sys/kernel/tracing', tracepoints: { kvm_exit: ['isa', 'exit_reason'], kvm_entry: ['rip'], kvm_page_fault: ['fault_address', 'error_code'] }, kvmLoaded: true, vendor: 'amd', tdp: true, kprobes: true, btf: true, handlers: ['kvm_tdp_page_fault'], kernel: 'bench', checks: [] };
  // --alloc-profile DIR: what the exporter allocates from the first usage asked (the warm-up's end) to its exit,
  // collected objects included (a heap profile of live objects alone misses the garbage the collector pays for)
  const allocDir = process.env.BENCH_ALLOC_PROFILE_DIR;
  let session;
  const { Session } = allocDir ? await import('node:inspector') : {};
  const post = (method, params) => new Promise((r, j) => session.post(method, params, (e, v) => (e ? j(e) : r(v))));
  process.on('message', async (m) => {
    if (m === 'exit') {
      if (session) writeFileSync(join(allocDir, `alloc-${process.pid}.heapprofile`), JSON.stringify((await post('HeapProfiler.stopSampling')).profile));
      process.exit(0);
    }
    if (allocDir && !session) {
      session = new Session();
      session.connect();
      await post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    }
    process.send({ cpu: process.cpuUsage(), rss: process.memoryUsage().rss });
  });
  process.send({ started: true });
  await exporterCommand({ interval: intervalMs, pid: [], reason: [], listen: `127.0.0.1:${port}`, metrics: { maxVms }, notify: () => undefined }, (o, onMessage) => startLiveIn(o, onMessage, caps, [], [], undefined));
} else if (process.argv[2] === 'exporter') {
// ---- B's child: the exporter's server and model, fed one snapshot a second ----
  process.on('disconnect', () => process.exit(1)); // the bench gone, so is this child
  const { MetricsService } = await dist('metrics/service.js');
  const { ExporterServer } = await dist('exporter/http-server.js');
  const [vms, maxVms, feed, every] = [Number(process.argv[3]), Number(process.argv[4]), process.argv[5] === 'feed', Number(process.argv[6] ?? 1)];
  const service = new MetricsService({ maxVms });
  service.apply(hello);
  for (const m of vmMessages(vms)) service.apply(m);
  let i = 0;
  for (; i < 3; i++) service.apply(snapshot(vms, i));
  // the stream's snapshots, made ahead (making them is the collector's work, not the exporter's)
  const ahead = feed ? Array.from({ length: 8 * every }, (_, k) => snapshot(vms, i + k, every)) : [];
  if (feed) setInterval(() => service.apply(ahead[i++ % ahead.length]), 1000);
  const server = new ExporterServer({ host: '127.0.0.1', port: 0, service });
  const { port } = await server.listen();
  // 'exit' ends it in order (a --cpu-prof profile is written at exit); anything else asks its usage
  process.on('message', (m) => (m === 'exit' ? process.exit(0) : process.send({ cpu: process.cpuUsage(), rss: process.memoryUsage().rss })));
  process.send({ port });
} else {
  const results = { node: process.version, cpuModel: cpus()[0]?.model, cores: cpus().length, loadavgBefore: loadavg(), scrape: [], cpu: [] };
  const log = (s) => process.stderr.write(`metrics-scrape: ${s}\n`);
  /** The children running: killed however this process ends (an error included), never left serving. */
  const children = new Set();
  process.on('exit', () => children.forEach((c) => sigkill(c)));
  const forked = (args, options) => {
    const child = fork(new URL(import.meta.url).pathname, args, options);
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  };

  // ---- A: scrape time and size ----
  if (ONLY === undefined || ONLY === 'A') for (const [vms, maxVms] of [[1, 500], [100, 500], [1000, 500], [1000, 1000]]) {
    const model = new MetricsModel({ maxVms });
    model.apply(hello);
    for (const m of vmMessages(vms)) model.apply(m);
    for (let i = 0; i < 10; i++) model.apply(snapshot(vms, i));
    const endpoint = metricsEndpoint(model);
    const registry = metricsRegistry(model);
    let parts;
    // as the HTTP route does: the body's buffer is given back once sent (the next scrape reuses it)
    const scrapes = async (between) => {
      const times = [];
      for (let k = 0; k < 20; k++) {
        between(k);
        if (parts) endpoint.release(parts);
        times.push(await ms(async () => (parts = await endpoint.scrape())));
      }
      return times;
    };
    // every series moved since the last scrape (a snapshot applied in between, not timed): the worst case
    const fast = await scrapes((k) => model.apply(snapshot(vms, 10 + k)));
    // nothing moved since the last scrape: the series are copied from the previous body
    const still = await scrapes(() => undefined);
    let ref;
    const promClient = [];
    for (let k = 0; k < 5; k++) promClient.push(await ms(async () => (ref = await registry.metrics())));
    const body = Buffer.concat(parts);
    const text = body.toString('utf8');
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
    const series = text.split('\n').filter((l) => l.startsWith('exitscope_')).length;
    const wall = (xs) => xs.map((x) => x.wall);
    const cpu = (xs) => xs.map((x) => x.cpu);
    const row = { vms, maxVms, reasons: REASONS.length, bytes: body.length, lines, exitscopeSeries: series, medianMs: median(wall(fast)), maxMs: Math.max(...wall(fast)), cpuMedianMs: median(cpu(fast)), nothingMovedMedianMs: median(wall(still)), nothingMovedCpuMedianMs: median(cpu(still)), promClientMedianMs: median(wall(promClient)), promClientCpuMedianMs: median(cpu(promClient)), sameText: ref.replace(/^(process|nodejs)_[\s\S]*$/m, '') === text.replace(/^(process|nodejs)_[\s\S]*$/m, '') };
    results.scrape.push(row);
    console.log(`A ${vms} VMs (cap ${maxVms}): ${(row.bytes / 1e6).toFixed(2)} MB, ${lines} lines; scrape (every series moved) median ${row.medianMs.toFixed(1)} ms wall (max ${row.maxMs.toFixed(1)}), ${row.cpuMedianMs.toFixed(1)} ms CPU; nothing moved ${row.nothingMovedMedianMs.toFixed(1)} ms wall, ${row.nothingMovedCpuMedianMs.toFixed(1)} ms CPU; prom-client's formatter ${row.promClientMedianMs.toFixed(1)} ms wall, ${row.promClientCpuMedianMs.toFixed(1)} ms CPU`);
  }

  // ---- B: the exporter's CPU at one scrape a second ----
  /** GET /metrics; 60 s without the whole body (one takes well under a second at 1,000 VMs) is an error. */
  const scrape = (port) => {
    let req;
    let got = 0;
    const body = new Promise((resolve, reject) => {
      req = request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => ((text += c), (got += c.length)));
        res.on('end', () => resolve(text));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    return within(`GET http://127.0.0.1:${port}/metrics`, 60_000, body, { onTimeout: () => req.destroy(), seen: () => `${got} characters of the body` });
  };
  /**
   * A forked child answering 'cpu' with {cpu, rss} and 'exit' by exiting: `WARMUP` s of the activity
   * (`eachSecond` once a second), then `SCRAPES` s measured; the child is stopped. B and C measure so.
   */
  const measureChild = async (child, eachSecond, label) => {
    // it answers at once, unless it hangs
    const usage = () => {
      const answer = nextMessage(child, `${label}: its CPU usage asked`, 60_000);
      child.send('cpu');
      return answer;
    };
    const seconds = async (n) => {
      for (let k = 0; k < n; k++) {
        await new Promise((r) => setTimeout(r, 1000));
        await eachSecond();
      }
    };
    await seconds(WARMUP);
    const before = await usage();
    const t0 = process.hrtime.bigint();
    await seconds(SCRAPES);
    const after = await usage();
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const exited = exitOf(child, `${label}: exiting when told`, 120_000); // a --cpu-prof or --alloc-profile written at exit included
    child.send('exit');
    await exited;
    return { wall, user: (after.cpu.user - before.cpu.user) / 1e6, system: (after.cpu.system - before.cpu.system) / 1e6, after };
  };
  if (!process.argv.includes('--no-cpu') && (ONLY === undefined || ONLY === 'B')) {
    results.warmupSeconds = WARMUP;
    results.movingToo = MOVING_TOO;
    /** One child, `WARMUP` s of the activity, then `SCRAPES` s measured: its own CPU time (user, system). */
    const cell = async (vms, maxVms, feed, scrapes, every) => {
      const execArgv = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [];
      const what = feed && scrapes ? 'ingest + scrape' : feed ? 'ingest only' : scrapes ? 'scrape only' : 'idle (the floor: Node, the process metrics)';
      const label = `B ${vms} VMs (cap ${maxVms}), ${what}, 1/${every} moving`;
      const child = forked(['exporter', String(vms), String(maxVms), feed ? 'feed' : 'still', String(every)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      // it builds its model and the snapshots ahead, then listens: seconds at most
      const { port } = await nextMessage(child, `${label}: the exporter child listening`, 120_000).catch((e) => (sigkill(child), Promise.reject(e)));
      const { wall, user, system, after } = await measureChild(child, async () => {
        if (scrapes) await scrape(port);
      }, label);
      const moving = every === 1 ? 'every VM moves each second' : `1/${every} of the VMs move each second`;
      const row = { vms, maxVms, what, moving, seconds: SCRAPES, wallSeconds: wall, cpuShareOfOneCore: (user + system) / wall, userShare: user / wall, systemShare: system / wall, rssBytes: after.rss };
      results.cpu.push(row);
      console.log(`B ${vms} VMs (cap ${maxVms}), ${what}${feed ? `, ${moving}` : ''}: ${(100 * row.cpuShareOfOneCore).toFixed(2)}% of a core over ${SCRAPES} s (user ${(100 * row.userShare).toFixed(2)}%, system ${(100 * row.systemShare).toFixed(2)}%), RSS ${(after.rss / 1e6).toFixed(0)} MB`);
    };
    // what the exporter adds per second: ingest (one snapshot), serve (one scrape), both
    for (const [vms, maxVms] of [[100, 500], [1000, 500], [1000, 1000]]) {
      for (const [feed, scrapes] of [[false, false], [true, false], [false, true], [true, true]]) await cell(vms, maxVms, feed, scrapes, 1);
    }
    // the same at 1,000 VMs when only some of them move each second
    if (MOVING_TOO > 1) {
      for (const [vms, maxVms] of [[1000, 500], [1000, 1000]]) {
        for (const [feed, scrapes] of [[true, false], [true, true]]) await cell(vms, maxVms, feed, scrapes, MOVING_TOO);
      }
    }
  }
  // ---- C: the whole exporter, bpftrace's output read by its collector ----
  if (ONLY === undefined || ONLY === 'C') {
    results.collector = [];
    results.collectorWarmupSeconds = WARMUP;
    results.before = BEFORE;
    const freePort = () =>
      new Promise((resolve, reject) => {
        const srv = createServer();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
          const { port } = srv.address();
          srv.close(() => resolve(port));
        });
      });
    /** One exporter of `build`: WARMUP s, then SCRAPES s measured, scraped once a second; its own CPU time. */
    const cellC = async (build, label, vms, maxVms, every, stragglers, intervalMs) => {
      const step = `C ${label}: ${vms} VMs, -i ${intervalMs}`;
      // BENCH_CHILD_FLAGS: more node flags for the exporter (e.g. --trace-gc)
      const execArgv = [...(PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : []), ...(process.env.BENCH_CHILD_FLAGS ?? '').split(' ').filter(Boolean)];
      const env = { ...process.env, FLEET_VMS: String(vms), FLEET_EVERY: String(every), FLEET_STRAGGLERS: String(stragglers) };
      /**
       * The exporter, started and serving the first interval's VMs (bpftrace's stand-in started, one
       * frame read): seconds; 3 minutes plus 10 intervals is a hang, the child killed (a retry starts afresh).
       */
      const startExporter = async () => {
        const port = await freePort();
        const child = forked(['collector', build, String(vms), String(maxVms), String(port), String(intervalMs)], { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        let last = 'no scrape answered yet';
        try {
          await nextMessage(child, `${step}: the exporter child starting`, 120_000);
          const serving = (async () => {
            for (;;) {
              await new Promise((r) => setTimeout(r, 500));
              if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${step}: the exporter exited (${child.signalCode ?? `status ${child.exitCode}`}) before it served its VMs`);
              const body = await scrape(port).catch((e) => ((last = `the last scrape: ${e.message}`), ''));
              if (body.includes('exitscope_exits_total{')) return;
              if (body) last = `the last scrape had no exitscope_exits_total series (${body.length} characters)`;
            }
          })();
          await within(`${step}: the exporter serving its VMs`, 180_000 + 10 * intervalMs, serving, { seen: () => last });
          return { child, port };
        } catch (e) {
          sigkill(child);
          throw e;
        }
      };
      const { child, port } = await retryOnce(step, startExporter, log);
      let lastBody = '';
      // --no-scrape: nothing asks /metrics while measured (what reading bpftrace and keeping the model cost alone)
      const { wall, user, system, after } = await measureChild(child, async () => {
        if (!process.argv.includes('--no-scrape')) lastBody = await scrape(port);
      }, step);
      const series = lastBody.split('\n').filter((l) => l.startsWith('exitscope_')).length;
      const row = { build: label, vms, maxVms, every, stragglers, intervalMs, seconds: SCRAPES, wallSeconds: wall, cpuShareOfOneCore: (user + system) / wall, userShare: user / wall, systemShare: system / wall, rssBytes: after.rss, seriesInLastScrape: series, loadavg: loadavg() };
      results.collector.push(row);
      console.log(`C ${label}: ${vms} VMs (cap ${maxVms}), -i ${intervalMs}, ${every === 1 ? 'every VM moves' : `1/${every} of the VMs move`} each interval${stragglers ? `, ${stragglers} late keys an interval` : ''}: ${(100 * row.cpuShareOfOneCore).toFixed(2)}% of a core over ${SCRAPES} s (user ${(100 * row.userShare).toFixed(2)}%, system ${(100 * row.systemShare).toFixed(2)}%), RSS ${(after.rss / 1e6).toFixed(0)} MB, ${series} series, load ${loadavg()[0].toFixed(1)}`);
    };
    const builds = [...(BEFORE ? [[BEFORE, 'before']] : []), [repo, 'after']];
    // --cells VMS:EVERY:STRAGGLERS[:INTERVAL_MS],...  (the exporter's -i: how often bpftrace prints; scrapes stay 1/s)
    const cells = word('cells')?.split(',').map((c) => c.split(':').map(Number)) ?? [[100, 1, 0], [1000, 1, 0], [1000, MOVING_TOO, 0], [1000, 1, 100]];
    for (const [vms, every, stragglers, intervalMs = 1000] of cells) {
      for (const [build, label] of builds) await cellC(build, label, vms, 500, every, stragglers, intervalMs);
    }
  }

  results.loadavgAfter = loadavg();
  const file = ONLY === 'C' ? 'bench/results/metrics-scrape-collector.json' : 'bench/results/metrics-scrape.json';
  writeFileSync(join(repo, file), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`${file} written`);
}
