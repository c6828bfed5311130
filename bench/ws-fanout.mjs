#!/usr/bin/env node
// WebSocket fan-out: one exitscope StreamServer (in this process) and 100 clients (in a child
// process, so that their memory is not counted as the server's), snapshots published at a fixed
// rate for a while. Run twice in one go: with every client reading, and with one more client that
// never reads (its socket paused). Measured: the server's RSS (max), the delivery latency of the
// 100 readers (publish -> received, p50/p99/max), whether every reader got every exit, and what
// happened to the stalled client.
//
//   node bench/ws-fanout.mjs [--clients 100] [--rate 10] [--seconds 20] [--vcpus 64]   (npm run build first)
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitOf, nextMessage, sigkill, within } from './lib/deadline.mjs';

const repo = new URL('..', import.meta.url).pathname;
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const CLIENTS = arg('clients', 100);
const RATE = arg('rate', 10);
const SECONDS = arg('seconds', 20);
const VCPUS = arg('vcpus', 64);

if (process.argv[2] === 'clients') {
  // the child: N readers (+1 stalled), reports latency and exit totals per reader
  process.on('disconnect', () => process.exit(1)); // the bench gone, so is this child
  const { WebSocket } = await import('ws');
  // a client that cannot connect fails the child (its error on stderr), not a wait for 'open' forever
  const opened = (ws, i) => new Promise((r, j) => (ws.once('open', r), ws.once('error', (e) => j(new Error(`client ${i}: ${e.message}`)))));
  const [url, n, stalled, t0] = [process.argv[3], Number(process.argv[4]), process.argv[5] === '1', Number(process.argv[6])];
  const lat = [];
  const totals = new Array(n).fill(0);
  const open = [];
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(url);
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      if (m.type !== 'snapshot') return;
      if (!m.merged) lat.push(Date.now() - (t0 + m.t));
      for (const e of m.exits) totals[i] += e.n;
    });
    open.push(opened(ws, i));
  }
  let stalledState = 'none';
  if (stalled) {
    const ws = new WebSocket(url);
    await opened(ws, 'stalled');
    ws._socket.pause();
    stalledState = 'connected, never reads';
    ws.on('close', () => (stalledState = 'terminated by the server'));
  }
  await Promise.all(open);
  process.send({ ready: true });
  process.on('message', () => {
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? null;
    process.send({ p50: q(0.5), p99: q(0.99), max: lat.at(-1) ?? null, samples: lat.length, totals, stalledState });
    setTimeout(() => process.exit(0), 100);
  });
} else {
  const { StreamServer } = await import(join(repo, 'dist/src/server/server.js'));
  const snapshot = (seq, t) => ({
    type: 'snapshot', seq, t, ms: 1000 / RATE,
    exits: Array.from({ length: VCPUS * 4 }, (_, i) => ({ pid: 1000 + (i % 8), tid: 2000 + Math.floor(i / 4), isa: 2, reason: [120, 123, 1024, 114][i % 4], n: 100 })),
    exitNs: Array.from({ length: 32 }, (_, i) => ({ pid: 1000 + (i % 8), isa: 2, reason: [120, 123, 1024, 114][i % 4], b: Array.from({ length: 12 }, (_, j) => [2 ** (10 + j), 10]) })),
    faults: [], regions: [], handlers: [],
  });
  const hello = { type: 'hello', v: 1, startedAt: new Date().toISOString(), host: 'bench', kernel: 'x', bpftrace: 'x', vendor: 'amd', tdp: true, intervalMs: 1000 / RATE, probes: [], handlers: [], filters: { pids: [], reasons: [] } };
  const frameBytes = JSON.stringify(snapshot(0, 0)).length;

  async function run(stalled) {
    const server = new StreamServer({ host: '127.0.0.1', port: 0, maxClients: CLIENTS + 10, highWaterBytes: 1 << 20, stuckMs: 10_000 });
    const { port } = await server.listen();
    const t0 = Date.now();
    server.publish(hello);
    const child = fork(new URL(import.meta.url).pathname, ['clients', `ws://127.0.0.1:${port}/stream`, String(CLIENTS), stalled ? '1' : '0', String(t0)]);
    const step = stalled ? 'the run with a stalled client' : 'the run with every client reading';
    // killed however this process ends (an error included): never left connected
    const killChild = () => sigkill(child);
    process.on('exit', killChild);
    // connecting 100 clients on loopback takes well under a second
    await nextMessage(child, `${step}: ${CLIENTS} clients connecting`, 120_000);
    let rssMax = 0;
    let seq = 0;
    const sent = [];
    await new Promise((resolve) => {
      const start = Date.now();
      const timer = setInterval(() => {
        server.publish(snapshot(seq++, Date.now() - t0));
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
        if (Date.now() - start >= SECONDS * 1000) {
          clearInterval(timer);
          resolve();
        }
      }, 1000 / RATE);
    });
    server.publish({ type: 'end', t: Date.now() - t0, complete: true });
    await new Promise((r) => setTimeout(r, 1500));
    const answer = nextMessage(child, `${step}: the clients' report`, 60_000);
    child.send('report');
    const result = await answer;
    const expected = seq * VCPUS * 4 * 100;
    await within(`${step}: closing the server`, 60_000, server.close());
    await exitOf(child, `${step}: the clients' child exiting`, 30_000); // it exits 100 ms after its report
    process.off('exit', killChild);
    return { stalled, snapshots: seq, serverRssMaxMiB: +(rssMax / 2 ** 20).toFixed(1), latencyMs: { p50: result.p50, p99: result.p99, max: result.max }, readersWithEveryExit: result.totals.filter((t) => t === expected).length, readers: CLIENTS, stalledClient: result.stalledState };
  }

  const baseline = await run(false);
  const withStalled = await run(true);
  const out = { date: new Date().toISOString(), node: process.version, clients: CLIENTS, ratePerSecond: RATE, seconds: SECONDS, snapshotBytes: frameBytes, baseline, withStalled, ratios: { p99: withStalled.latencyMs.p99 / Math.max(1, baseline.latencyMs.p99), rss: withStalled.serverRssMaxMiB / baseline.serverRssMaxMiB } };
  writeFileSync(join(repo, 'bench/results/ws-fanout.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(JSON.stringify(out, null, 2));
}
