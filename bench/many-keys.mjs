#!/usr/bin/env node
// Many keys: time and peak RSS of `exitscope report -f json` (and `replay --plain`) on recordings
// from bench/gen-many-keys.mjs: 10^4, 10^5 and 10^6 distinct keys, and 25/50/100 snapshots of
// 1,000 keys (time should grow linearly in keys x snapshots). Each run is a fresh process, timed
// from outside by /usr/bin/time (elapsed and max RSS). Writes bench/results/many-keys.json.
//
//   npx tsc -p tsconfig.json && node bench/many-keys.mjs [--quick]    (--quick: no 10^6 case)
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { runSync } from './lib/deadline.mjs';

const repo = new URL('..', import.meta.url).pathname;
const cli = join(repo, 'bin/exitscope.js');
if (!existsSync(join(repo, 'dist/src/cli.js'))) throw new Error('build first: npx tsc -p tsconfig.json');
if (!existsSync('/usr/bin/time')) throw new Error('needs /usr/bin/time (apt-get install time) for the peak RSS');
const quick = process.argv.includes('--quick');
const dir = mkdtempSync(join(tmpdir(), 'exitscope-many-keys-'));

/**
 * The bounds, proportional to the work (keys x snapshots written, or read): 2 (generating) or 5
 * (reading) minutes plus 0.1 or 0.5 ms a key and snapshot, 10 to 20 times what a slow machine takes
 * (the target for reading 10^6 keys is 30 s; this allows 13 minutes).
 */
const generateMs = (keys, snapshots) => 120_000 + keys * snapshots * 0.1;
const measureMs = (keys, snapshots) => 300_000 + keys * snapshots * 0.5;

function generate(keys, snapshots) {
  const path = join(dir, `k${keys}-s${snapshots}.jsonl`);
  const r = runSync(`generating ${keys} keys x ${snapshots} snapshots`, generateMs(keys, snapshots), process.execPath, [join(repo, 'bench/gen-many-keys.mjs'), '--keys', String(keys), '--snapshots', String(snapshots), '-o', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`generating ${keys} keys x ${snapshots} snapshots failed (${r.error?.message ?? r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** One run of the CLI: seconds and peak RSS (MiB) as /usr/bin/time saw them; output discarded. */
function measure(args, ms) {
  // timeout(1) ends the whole tree (time and the node under it: its process group), then says 124;
  // spawnSync's own bound, a minute later, is for timeout itself
  const secs = String(Math.ceil(ms / 1000));
  const r = runSync(`exitscope ${args.join(' ')}`, ms + 60_000, 'timeout', ['--kill-after=30', secs, '/usr/bin/time', '-f', 'EXITSCOPE_BENCH %e %M', process.execPath, cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  if (r.status === 124 || r.status === 137) throw new Error(`exitscope ${args.join(' ')}: not done after ${secs} s, killed: ${r.stderr.slice(-2000)}`);
  const m = /EXITSCOPE_BENCH ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`exitscope ${args.join(' ')} failed (${r.error?.message ?? r.status ?? r.signal}): ${r.stderr?.slice(-2000)}`);
  return { seconds: Number(m[1]), maxRssMiB: Math.round(Number(m[2]) / 1024) };
}

const cases = [
  ...[10_000, 100_000, ...(quick ? [] : [1_000_000])].map((keys) => ({ what: 'report -f json', keys, snapshots: 1 })),
  ...[25, 50, 100].map((snapshots) => ({ what: 'report -f json', keys: 1000, snapshots })),
  ...[25, 50, 100].map((snapshots) => ({ what: 'replay --plain', keys: 1000, snapshots })),
  { what: 'replay --plain', keys: 10_000, snapshots: 100 },
];
const results = [];
for (const c of cases) {
  const rec = generate(c.keys, c.snapshots);
  const args = c.what === 'report -f json' ? ['report', '-f', 'json', rec.path] : ['replay', '--plain', rec.path];
  const m = measure(args, measureMs(c.keys, c.snapshots));
  const row = { command: c.what, keys: rec.keys, vms: rec.pids, snapshots: rec.snapshots, keysPerSnapshot: rec.keysPerSnapshot, megabytes: +(rec.bytes / 2 ** 20).toFixed(1), ...m };
  results.push(row);
  process.stdout.write(`${JSON.stringify(row)}\n`);
  rmSync(rec.path, { force: true });
}
rmSync(dir, { recursive: true, force: true });
const out = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), target: 'report -f json of 10^6 keys: < 30 s and < 500 MiB', results };
writeFileSync(join(repo, 'bench/results/many-keys.json'), `${JSON.stringify(out, null, 2)}\n`);
process.stdout.write(`written bench/results/many-keys.json\n`);
