#!/usr/bin/env node
// The dashboard's own cost at scale: the REAL dashboard (`exitscope replay FILE`, speed 1, one
// snapshot a second as recorded) in a real terminal (tmux, 160 x 50, TERM=xterm-256color), against
// `top -d 1` and `htop -d 10` (when installed) in the same kind of terminal, all in one run.
//
//   npm run build
//   apt-get install -y htop tmux        # once, on the machine that measures (not in CI)
//   node bench/dashboard.mjs [--warmup 65] [--measure 90] [--sizes 2x2,1x8,10x8,50x8] [--sequential]
//                            [--compare DIR] [--semi-space MB]
//
// --compare DIR: the same replays by another checkout's build (DIR/bin/exitscope.js, built with
// `npx tsc -p tsconfig.json` there), side by side in the same run: before and after a change.
// --semi-space MB: the replays of the smallest and largest size once more with
// NODE_OPTIONS=--max-semi-space-size=MB (V8's young generation, 16 MB a semi-space by default).
//
// Recordings: bench/gen-dashboard.mjs (VMs x vCPUs x 12 reasons, one snapshot a second, churn,
// idle VMs), 300 s long, written to the temp dir once. Each program runs alone in its own tmux server
// (so the terminal's work can be told apart: its server's CPU is reported beside the program's).
// The programs run side by side by default (one run, the same machine state for all; --sequential
// runs them one after the other).
//
// What is measured, per program:
// - CPU: process CPU time (utime + stime from /proc/PID/stat, children not included: none of these
//   has any) over a steady window: after --warmup seconds (the dashboard's 60 s of history filled),
//   for --measure seconds; as % of one core (CPU seconds / wall seconds of the window).
// - RSS: VmRSS sampled every second in the window (the steady median and max) and VmHWM (the peak
//   since start, the start included).
// - The machine: CPUs, load average before and after, and the whole machine's busy share over the
//   window (/proc/stat), so that other load present is said, not hidden.
// The screen of each program is captured at the end of the window (a check that it draws).
// Results: bench/results/dashboard.json; the table: docs/benchmarks.md, section 7.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSync } from './lib/deadline.mjs';

const repo = new URL('..', import.meta.url).pathname;
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const WARMUP = Number(arg('warmup', 65));
const MEASURE = Number(arg('measure', 90));
const SIZES = String(arg('sizes', '2x2,1x8,10x8,50x8')).split(',');
const SEQUENTIAL = process.argv.includes('--sequential');
const OUT = arg('out', join(repo, 'bench/results/dashboard.json'));
const COMPARE = arg('compare', undefined);
const SEMI = arg('semi-space', undefined);
/** `cmd args` bounded (a step that hangs is killed and named), its stdout; a failure throws. */
function run(step, ms, cmd, args, options = {}) {
  const r = runSync(step, ms, cmd, args, { encoding: 'utf8', ...options });
  if (r.error || r.status !== 0) throw new Error(`${step}: \`${[cmd, ...args].join(' ')}\` failed (${r.error?.message ?? `status ${r.status ?? r.signal}`})${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
  return r.stdout;
}
const CLK_TCK = Number(run('getconf CLK_TCK', 30_000, 'getconf', ['CLK_TCK']).trim());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const has = (cmd) => runSync(`looking for ${cmd}`, 30_000, 'sh', ['-c', `command -v ${cmd}`]).status === 0;

if (!has('tmux')) throw new Error('tmux is needed: apt-get install -y tmux');
if (!existsSync(join(repo, 'dist/src/cli.js'))) throw new Error('build first: npm run build');

/** The recording of a size ("VMSxVCPUS"), generated once (the generator is deterministic). */
function recording(size) {
  const [vms, vcpus] = size.split('x').map(Number);
  const path = join(tmpdir(), `exitscope-dash-${vms}x${vcpus}-300s.jsonl`);
  // 10 minutes: some 20 times what the largest size takes here
  if (!existsSync(path)) run(`generating the ${size} recording`, 600_000, 'node', [join(repo, 'bench/gen-dashboard.mjs'), '--vms', String(vms), '--vcpus', String(vcpus), '--seconds', '300', '-o', path], { stdio: 'inherit' });
  return path;
}

const label = (size) => `${size.replace('x', ' VMs x ')} vCPUs`;
const subjects = [
  ...SIZES.map((size) => ({ name: `exitscope replay ${label(size)}`, size, command: ['node', join(repo, 'bin/exitscope.js'), 'replay', recording(size)] })),
  ...(COMPARE ? SIZES.map((size) => ({ name: `(--compare) exitscope replay ${label(size)}`, size, command: ['node', join(COMPARE, 'bin/exitscope.js'), 'replay', recording(size)] })) : []),
  ...(SEMI ? [SIZES[0], SIZES.at(-1)].map((size) => ({ name: `exitscope replay ${label(size)}, semi-space ${SEMI} MB`, size, env: `NODE_OPTIONS=--max-semi-space-size=${SEMI}`, command: ['node', join(repo, 'bin/exitscope.js'), 'replay', recording(size)] })) : []),
  // the floor of any Ink frame this size: plain text, one new frame a second (bench/ink-floor.mjs)
  { name: 'Ink alone: 159 x 49 plain text, 1 frame/s', command: ['node', join(repo, 'bench/ink-floor.mjs'), '--tty'] },
  { name: 'top -d 1', command: ['top', '-d', '1'] },
  ...(has('htop') ? [{ name: 'htop -d 10', command: ['htop', '-d', '10'] }] : []),
];
if (!has('htop')) process.stderr.write('htop is not installed (apt-get install -y htop): measured without it\n');

// a tmux command answers at once: 30 s means its server hangs
const tmux = (sock, ...args) => run(`tmux ${args[0]} (server ${sock})`, 30_000, 'tmux', ['-L', sock, ...args]);
const shellQuote = (s) => `'${s.replaceAll("'", "'\\''")}'`;

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the name may hold spaces
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
}
/** An error naming the program if its process is gone (its tmux session, and server, went with it). */
function alive(r, when) {
  if (!existsSync(`/proc/${r.pid}`)) throw new Error(`${r.name}: its process (${r.pid}) exited ${when}: run it by hand to see why (${r.command.join(' ')})`);
}
function status(pid, key) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) / 1024 : NaN; // MiB
}
/** The machine's busy and total jiffies (all CPUs). */
function machine() {
  const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const n = v.map(Number);
  const idle = n[3] + n[4];
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : NaN;
};

function start(s, i) {
  const sock = `exitscope-bench-${process.pid}-${i}`;
  // the program is the pane's process (exec), CI unset (Ink draws only its last frame when CI=true)
  const cmd = `exec env -u CI -u NODE_OPTIONS -u NODE_ENV TERM=xterm-256color ${s.env ?? ''} ${s.command.map(shellQuote).join(' ')}`;
  try {
    tmux(sock, 'new-session', '-d', '-s', 'bench', '-x', '160', '-y', '50', '-c', repo, cmd);
    const pid = Number(tmux(sock, 'display', '-p', '-t', 'bench', '#{pane_pid}').trim());
    const server = Number(tmux(sock, 'display', '-p', '-t', 'bench', '#{pid}').trim());
    const socketPath = tmux(sock, 'display', '-p', '-t', 'bench', '#{socket_path}').trim();
    return { ...s, sock, pid, server, socketPath };
  } catch (e) {
    stop({ sock }); // its server is not left running
    throw new Error(`${s.name}: starting it in tmux failed: ${e.message}`);
  }
}

async function measure(running) {
  await sleep(WARMUP * 1000);
  for (const r of running) alive(r, 'during the warm-up');
  const before = running.map((r) => ({ cpu: cpuSeconds(r.pid), server: cpuSeconds(r.server) }));
  const m0 = machine();
  const load0 = loadavg();
  const t0 = performance.now();
  const rss = running.map(() => []);
  for (let k = 0; k < MEASURE; k++) {
    await sleep(1000);
    for (const r of running) alive(r, `in the measured window, after ${k + 1} s`);
    running.forEach((r, i) => rss[i].push(status(r.pid, 'VmRSS')));
  }
  const wall = (performance.now() - t0) / 1000;
  const m1 = machine();
  const results = running.map((r, i) => ({
    name: r.name,
    cpuPercent: (100 * (cpuSeconds(r.pid) - before[i].cpu)) / wall,
    terminalCpuPercent: (100 * (cpuSeconds(r.server) - before[i].server)) / wall,
    rssMiBMedian: median(rss[i]),
    rssMiBMax: Math.max(...rss[i]),
    rssMiBPeak: status(r.pid, 'VmHWM'),
    screen: tmux(r.sock, 'capture-pane', '-p', '-t', 'bench'),
  }));
  return { results, wall, machineBusyCores: ((m1.busy - m0.busy) / (m1.total - m0.total)) * cpus().length, load: [load0, loadavg()] };
}

function stop(r) {
  try {
    tmux(r.sock, 'kill-server');
  } catch {
    // gone already, or its server does not answer: killed (its panes get a hangup)
    try {
      if (r.server) process.kill(r.server, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  if (r.socketPath) rmSync(r.socketPath, { force: true }); // tmux leaves its socket file behind
}

const runs = [];
const started = new Date().toISOString();
/** The tmux servers started and not yet stopped: stopped however this script ends (an error, a signal). */
const live = new Set();
const stopAll = () => {
  for (const r of live) stop(r);
  live.clear();
};
process.on('exit', stopAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(128 + osConstants.signals[signal])); // 'exit' then runs
const startLive = (s, i) => {
  const r = start(s, i);
  live.add(r);
  return r;
};
try {
  if (SEQUENTIAL) {
    for (const [i, s] of subjects.entries()) {
      const r = startLive(s, i);
      try {
        runs.push(await measure([r]));
      } finally {
        stop(r);
        live.delete(r);
      }
    }
  } else {
    // one by one: a start that fails leaves the ones before it in `live`, stopped below
    const running = subjects.map(startLive);
    runs.push(await measure(running));
  }
} finally {
  stopAll();
}

const rows = runs.flatMap((run) => run.results.map((x) => ({ ...x, machineBusyCores: run.machineBusyCores, load: run.load })));
for (const x of rows) {
  const ok = x.name.includes('exitscope') ? /EXIT REASON/.test(x.screen) && /REPLAY/.test(x.screen) : x.name.startsWith('Ink') ? /exit reason and its numbers/.test(x.screen) : x.screen.trim().length > 0;
  if (!ok) process.stderr.write(`warning: ${x.name} did not show its screen at the end of the window:\n${x.screen}\n`);
  x.drew = ok;
}
const result = {
  started,
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  warmupSeconds: WARMUP,
  measureSeconds: MEASURE,
  mode: SEQUENTIAL ? 'sequential' : 'side by side',
  ...(COMPARE ? { compare: `${COMPARE} at ${run('git rev-parse (--compare)', 60_000, 'git', ['-C', COMPARE, 'rev-parse', '--short', 'HEAD']).trim()}` } : {}),
  commit: run('git rev-parse', 60_000, 'git', ['-C', repo, 'rev-parse', '--short', 'HEAD']).trim(),
  rows: rows.map(({ screen, ...x }) => ({ ...x, screenFirstLines: screen.split('\n').slice(0, 4) })),
};
writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
const f = (x, d = 1) => x.toFixed(d);
process.stdout.write(`| program | CPU % of a core | terminal (tmux) CPU % | RSS MiB steady (max) | RSS peak MiB |\n|---|---:|---:|---:|---:|\n`);
for (const x of rows) process.stdout.write(`| ${x.name} | ${f(x.cpuPercent, 2)} | ${f(x.terminalCpuPercent, 2)} | ${f(x.rssMiBMedian)} (${f(x.rssMiBMax)}) | ${f(x.rssMiBPeak)} |\n`);
process.stdout.write(`machine: ${result.cpus} CPUs (${result.cpuModel}), busy ${f(rows[0]?.machineBusyCores ?? NaN, 2)} cores over the window, load ${rows[0]?.load.map((l) => l.map((v) => v.toFixed(2)).join(' ')).join(' → ')}\n`);
process.stdout.write(`written: ${OUT}\n`);
