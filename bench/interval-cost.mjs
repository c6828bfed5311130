#!/usr/bin/env node
// What a shorter interval costs: the CPU of `exitscope serve -i I` and of its bpftrace while VMs
// run steadily, at each interval asked, for this checkout and (--compare) another built one, all in
// one lab boot, interleaved round by round.
//
//   node bench/interval-cost.mjs [--intervals 1000,250] [--vms 4] [--seconds 30] [--rounds 3]
//                                [--compare DIR] [--out FILE]
//
// From the checkout on the host (root, QEMU; `npm run build` first, in DIR too): it boots the lab
// (one TCG thread, the lab's default) and runs itself there. In the guest:
//   - `--vms` loops each run short-lived VMs back to back (`exitscope-workload mix 6 2`: 2 vCPUs,
//     port I/O, HLT, CPUID, MSR, MMIO and nested page faults), the same for every variant, from
//     the start to the end;
//   - then, `--rounds` times, for each build and each interval: `exitscope serve -i I` starts, a
//     WebSocket client waits for its first snapshot, and the CPU (utime + stime) of serve's node
//     process and of its bpftrace is read over `--seconds`, with the snapshots and bytes the
//     client received; serve is stopped with SIGINT.
// What it shows: the part of the collector's cost that follows the interval (bpftrace printing and
// clearing its maps, the collector reading them, a snapshot sent) against the part that does not
// (the VMs' own exits, counted in the kernel; the VM tracker's polls). Every timing is the
// emulated CPU's (QEMU TCG): compare the rows of one run, never with real hardware.
//
// Writes bench/results/interval-cost.json (or --out) and prints a markdown table (medians over
// rounds, with min..max).
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { within } from './lib/deadline.mjs';
import { intervalsOption, scriptOptions } from './lib/options.mjs';
import { childrenOf, cpuSeconds, named } from './lib/proc.mjs';
import { startServe } from './lib/serve.mjs';

const repo = new URL('..', import.meta.url).pathname;
const { args, opt } = scriptOptions(import.meta.url);
const INTERVALS = intervalsOption(opt('intervals', '1000,250'));
const VMS = Number(opt('vms', 4));
const SECONDS = Number(opt('seconds', 30));
const ROUNDS = Number(opt('rounds', 3));
const COMPARE = opt('compare', undefined);
const OUT = resolve(opt('out', join(repo, 'bench/results/interval-cost.json')));
if (!(VMS >= 0 && VMS <= 16)) throw new Error('--vms takes 0..16');
if (!(SECONDS >= 5)) throw new Error('--seconds takes 5 or more');
if (!(ROUNDS >= 1)) throw new Error('--rounds takes a positive number');
const BUILDS = [{ name: 'this checkout', dir: repo }, ...(COMPARE ? [{ name: COMPARE, dir: resolve(COMPARE) }] : [])];
for (const b of BUILDS) if (spawnSync('test', ['-f', join(b.dir, 'dist/src/cli.js')]).status !== 0) throw new Error(`${b.dir}: not built (npm run build)`);

if (!process.env.EXITSCOPE_LAB) {
  const { rerunInLab } = await import('./lib/lab-run.mjs');
  await rerunInLab({ repo, script: 'bench/interval-cost.mjs', args, out: OUT, timeoutSeconds: Math.ceil(300 + ROUNDS * BUILDS.length * INTERVALS.length * (SECONDS + 90)) });
}

const W = join(repo, 'build/exitscope-workload');
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`bench: ${s}\n`);
const { default: WebSocket } = await import('ws');

/** One variant: serve -i I of one build, measured over SECONDS once its first snapshot came. */
async function measure(build, intervalMs, port) {
  const serve = await startServe({ bin: join(build.dir, 'bin/exitscope.js'), port, intervalMs, WebSocket });
  try {
    // counting: wait for a first snapshot (the stream answers before bpftrace has attached)
    const client = { ws: new WebSocket(`ws://127.0.0.1:${port}/stream`), snapshots: 0, bytes: 0 };
    client.ws.on('message', (data) => {
      client.bytes += data.length;
      if (String(data).startsWith('{"type":"snapshot"')) client.snapshots++;
    });
    await within(`-i ${intervalMs} (${build.name}): serve's first snapshot`, 240_000, (async () => {
      while (client.snapshots === 0) await sleep(100);
    })(), { seen: () => serve.stderr().trim().split('\n').at(-1) });
    const bpftrace = named(childrenOf(serve.pid), 'bpftrace')[0];
    if (!bpftrace) throw new Error(`-i ${intervalMs} (${build.name}): no bpftrace under serve`);
    const before = { node: cpuSeconds(serve.pid), bpftrace: cpuSeconds(bpftrace), snapshots: client.snapshots, bytes: client.bytes, t: now() };
    await sleep(SECONDS * 1000);
    const wall = (now() - before.t) / 1000;
    const r = {
      build: build.name,
      intervalMs,
      nodeCpu: (cpuSeconds(serve.pid) - before.node) / wall,
      bpftraceCpu: (cpuSeconds(bpftrace) - before.bpftrace) / wall,
      snapshotsPerSecond: (client.snapshots - before.snapshots) / wall,
      bytesPerSecond: (client.bytes - before.bytes) / wall,
      seconds: wall,
    };
    client.ws.close();
    return r;
  } finally {
    await serve.stop();
  }
}

// the steady load: VM loops in their own process group, stopped at the end
const load = spawn('sh', ['-c', Array.from({ length: VMS }, () => `( while :; do ${W} mix 6 2 > /dev/null || exit 1; done ) &`).join('\n') + '\nwait'], { stdio: 'ignore', detached: true });
await sleep(3000);
const runs = [];
try {
  let port = 7511;
  for (let round = 0; round < ROUNDS; round++) {
    for (const build of BUILDS) {
      for (const i of INTERVALS) {
        const r = await measure(build, i, port++);
        runs.push({ round, ...r });
        log(`round ${round + 1}/${ROUNDS}, ${build.name}, -i ${i}: serve ${(r.nodeCpu * 100).toFixed(1)}%, bpftrace ${(r.bpftraceCpu * 100).toFixed(1)}%, ${r.snapshotsPerSecond.toFixed(2)} snapshots/s`);
      }
    }
  }
} finally {
  try {
    process.kill(-load.pid, 'SIGKILL');
  } catch {}
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const rows = [];
for (const build of BUILDS) {
  for (const i of INTERVALS) {
    const rs = runs.filter((r) => r.build === build.name && r.intervalMs === i);
    const stat = (f) => ({ median: median(rs.map(f)), min: Math.min(...rs.map(f)), max: Math.max(...rs.map(f)) });
    rows.push({ build: build.name, intervalMs: i, nodeCpu: stat((r) => r.nodeCpu), bpftraceCpu: stat((r) => r.bpftraceCpu), bothCpu: stat((r) => r.nodeCpu + r.bpftraceCpu), bytesPerSecond: stat((r) => r.bytesPerSecond) });
  }
}
const env = {
  kernel: spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim(),
  bpftrace: spawnSync('bpftrace', ['--version'], { encoding: 'utf8' }).stdout.trim(),
  cpus: spawnSync('nproc', { encoding: 'utf8' }).stdout.trim(),
  date: new Date().toISOString(),
  vms: VMS,
  seconds: SECONDS,
  rounds: ROUNDS,
  builds: BUILDS.map((b) => ({ name: b.name, commit: spawnSync('git', ['-C', b.dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim() })),
  lab: 'QEMU TCG, one thread (the lab default)',
};
writeFileSync(OUT, JSON.stringify({ env, rows, runs }, null, 1) + '\n');
const pct = (s) => `${(s.median * 100).toFixed(1)} (${(s.min * 100).toFixed(1)}..${(s.max * 100).toFixed(1)})`;
const lines = ['| build | interval | serve CPU % | its bpftrace CPU % | both % | stream KB/s |', '|---|---|---:|---:|---:|---:|'];
for (const r of rows) lines.push(`| ${r.build} (${env.builds.find((b) => b.name === r.build)?.commit}) | -i ${r.intervalMs} | ${pct(r.nodeCpu)} | ${pct(r.bpftraceCpu)} | ${pct(r.bothCpu)} | ${(r.bytesPerSecond.median / 1024).toFixed(1)} |`);
process.stdout.write(lines.join('\n') + '\n');
log(`wrote ${OUT}`);
