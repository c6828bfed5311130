#!/usr/bin/env node
// What exitscope's in-kernel program costs on a real CPU, against perf record and a bare count(),
// per event pair, in one run (issue 15, item 2). KVM tracepoints never fire on these machines, but
// BPF runs natively: the program exitscope generates is pointed at another tracepoint pair that
// fires at a high rate, raw_syscalls:sys_enter / sys_exit, driven by a tight getppid() loop
// pinned to one CPU. One iteration = one sys_enter + one sys_exit = one event pair, standing in for
// one kvm_exit + kvm_entry. `node bench/real-cpu.mjs --help` says it all; docs/benchmarks.md §8
// has the results and what this models and what it cannot.
import { spawn } from 'node:child_process';
import { closeSync, constants as fsc, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { retryOnce, runSync, sigkill, StepTimeout, within } from './lib/deadline.mjs';

const repo = new URL('..', import.meta.url).pathname;

const HELP = `node bench/real-cpu.mjs [options]     (as root, after npm run build)

What one event pair costs, on this machine's real CPU, under each tracer: a tight loop of
getppid() (compiled here with gcc), pinned to one CPU, makes one raw_syscalls:sys_enter and one
sys_exit per iteration. Every tracer traces the pair system-wide and is pinned to the other CPUs;
the loop measures its own thread CPU time per iteration (the in-kernel work a tracer adds runs in
the loop's context: BPF programs, perf's copy into its ring buffer) and its wall time. Variants,
interleaved in rounds (A B C ... A B C ...), medians and spread over rounds:

  none                  no tracer: the baseline
  bpftrace-count        bpftrace, a bare @c = count() on both tracepoints
  exitscope-default     exitscope's program as src/probes/program.ts builds it (dist/), latency on,
                        kvm_exit/kvm_entry replaced by sys_enter/sys_exit, at the default interval
  exitscope-no-latency  the same with --no-latency
  perf-record           perf record -a -e raw_syscalls:sys_enter -e raw_syscalls:sys_exit
                        (--exclude-perf on each: perf's own writes are not traced), to tmpfs:
                        perf kvm stat's mechanism, every event copied out and read in user space
                        with a ring buffer that holds the whole run (-m), so nothing is lost
  perf-record-default-buffer  the same at perf's default buffer size (events lost: cheaper)
  perf-stat             perf stat -a on the pair: in-kernel counting, a floor
  cand-*                candidates (issue 15 item 1), NOT what exitscope runs: --no-candidates
                        leaves them out

Options:
  --rounds R        rounds (default 9)
  --iterations N    getppid() calls per batch (default 100000)
  --batches B       batches per run; a run's figure is the median batch (default 9)
  --cpu C           the CPU the loop is pinned to (default: the last one)
  --interval MS     the exitscope programs' print interval (default: exitscope's own, read from
                    \`exitscope top --help\`)
  --only a,b,...    run only these variants (none is always run)
  --no-candidates   leave the cand-* variants out
  --out FILE        results (default bench/results/real-cpu.json)
  --help            this text

Needs: root, bpftrace, perf (linux-perf), gcc, taskset, tracefs (mounted here if it is not),
a tmpfs at /dev/shm for perf's data. Prints a markdown table; writes every round's raw numbers.`;

// ---------- arguments ----------
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const KNOWN = new Set(['--rounds', '--iterations', '--batches', '--cpu', '--interval', '--only', '--out', '--no-candidates']);
for (const a of argv) if (a.startsWith('--') && !KNOWN.has(a)) fail(`unknown option ${a} (see --help)`);
function opt(name) {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  if (i + 1 >= argv.length) fail(`--${name} needs a value`);
  return argv[i + 1];
}
function intOpt(name, dflt, min, max) {
  const raw = opt(name);
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) fail(`--${name} must be a whole number from ${min} to ${max}, not ${raw}`);
  return n;
}
function fail(msg) {
  process.stderr.write(`real-cpu: ${msg}\n`);
  process.exit(2);
}
const log = (s) => process.stderr.write(`real-cpu: ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const ROUNDS = intOpt('rounds', 9, 1, 100);
const ITERATIONS = intOpt('iterations', 100_000, 1000, 100_000_000);
const BATCHES = intOpt('batches', 9, 1, 1000);
const NCPU = cpus().length;
const LOOP_CPU = intOpt('cpu', NCPU - 1, 0, NCPU - 1);
const OTHER_CPUS = Array.from({ length: NCPU }, (_, i) => i).filter((c) => c !== LOOP_CPU);
const OUT = opt('out') ?? join(repo, 'bench/results/real-cpu.json');
const CANDIDATES = !argv.includes('--no-candidates');

// ---------- preflight ----------
if (process.getuid?.() !== 0) fail('run as root: bpftrace and system-wide perf need it (sudo node bench/real-cpu.mjs)');
if (OTHER_CPUS.length === 0) fail('needs at least 2 CPUs: the loop gets one, the tracers the others');
function version(cmd, args) {
  const r = runSync(`${cmd}'s version`, 60_000, cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0];
}
const tools = { bpftrace: version('bpftrace', ['--version']), perf: version('perf', ['version']), gcc: version('gcc', ['--version']), taskset: version('taskset', ['--version']) };
for (const [t, v] of Object.entries(tools)) if (!v) fail(`${t} not found or not working (apt-get install -y ${t === 'perf' ? 'linux-perf' : t === 'taskset' ? 'util-linux' : t})`);
const TRACEFS = '/sys/kernel/tracing';
if (!existsSync(join(TRACEFS, 'events/raw_syscalls/sys_enter'))) {
  log(`tracefs is not mounted at ${TRACEFS}: mounting it`);
  const m = runSync('mounting tracefs', 60_000, 'mount', ['-t', 'tracefs', 'tracefs', TRACEFS], { encoding: 'utf8' });
  if (m.status !== 0 || !existsSync(join(TRACEFS, 'events/raw_syscalls/sys_enter')))
    fail(`could not mount tracefs at ${TRACEFS} (${(m.stderr || '').trim() || 'no raw_syscalls events after mounting'}): run \`mount -t tracefs tracefs ${TRACEFS}\` yourself; the kernel needs CONFIG_FTRACE_SYSCALLS`);
}
const SHM = '/dev/shm';
const shmIsTmpfs = readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === SHM && l.split(' ')[2] === 'tmpfs');
if (!shmIsTmpfs) fail(`${SHM} is not a tmpfs: perf record must write to memory, not a disk (mount -t tmpfs tmpfs ${SHM})`);
const programJs = join(repo, 'dist/src/probes/program.js');
if (!existsSync(programJs)) fail('dist/ is missing: run `npm run build` first (the programs come from the built generator)');

const { buildProgram } = await import(programJs);
const { deleteEntry, supportsDeleteWithKey } = await import(join(repo, 'dist/src/probes/dialect.js'));
const { mapKeysMax } = await import(join(repo, 'dist/src/collector/collector.js'));

/** exitscope's default interval, from its own help text (so that a change of default shows here). */
function defaultInterval() {
  const r = runSync('exitscope top --help (the default interval)', 120_000, process.execPath, [join(repo, 'bin/exitscope.js'), 'top', '--help'], { encoding: 'utf8' });
  const m = /--interval <ms>[\s\S]*?\(default:\s*(\d+)\)/.exec(r.stdout ?? '');
  if (!m) fail('could not read the default --interval from `exitscope top --help`: give --interval');
  return Number(m[1]);
}
const INTERVAL_MS = intOpt('interval', 0, 10, 3_600_000) || defaultInterval();

const bpftraceVersion = /v?(\d+)\.(\d+)/.exec(tools.bpftrace);
const DIALECT = { kernelTypes: false, deleteWithKey: supportsDeleteWithKey(bpftraceVersion ? { major: Number(bpftraceVersion[1]), minor: Number(bpftraceVersion[2]) } : undefined) };

// ---------- the programs ----------
/** Replaces `from` by `to` exactly `times` times, or fails loudly: the generator changed. */
function replaceExactly(text, from, to, times, what) {
  const n = text.split(from).length - 1;
  if (n !== times) throw new Error(`${what}: expected ${times} x ${JSON.stringify(from)} in the generated program, found ${n}: src/probes/program.ts changed, update bench/real-cpu.mjs`);
  return text.split(from).join(to);
}

/**
 * exitscope's program (the built generator's output, for this bpftrace's dialect) on the syscall
 * pair: the probe names and the two kvm_exit fields replaced, nothing else. Page faults and
 * handler kprobes are left out (pageFaults: false, handlers: []): they fire on NPF exits only,
 * not per exit pair. Both fields read the syscall number as a u32 (kvm_exit's isa and exit_reason
 * are u32): the key [pid, tid, isa, reason] keeps its shape, one key per thread and syscall.
 */
function onSyscalls(text, latency, what) {
  let t = replaceExactly(text, 'tracepoint:kvm:kvm_exit\n{\n', 'tracepoint:raw_syscalls:sys_enter\n{\n', 1, what);
  t = replaceExactly(t, 'tracepoint:kvm:kvm_entry\n{\n', 'tracepoint:raw_syscalls:sys_exit\n{\n', latency ? 1 : 0, what);
  t = replaceExactly(t, '$isa = args->isa;', '$isa = (uint32)args->id;', 1, what);
  t = replaceExactly(t, '$reason = args->exit_reason;', '$reason = (uint32)args->id;', 1, what);
  // nothing of KVM may be left, and no other tracepoint field: else the generator grew something
  if (/kvm:|kvm_/.test(t)) throw new Error(`${what}: a kvm probe or field is left after substitution: update bench/real-cpu.mjs`);
  const fields = [...t.matchAll(/args->(\w+)/g)].map((m) => m[1]).filter((f) => f !== 'id');
  if (fields.length) throw new Error(`${what}: unexpected tracepoint fields ${fields.join(', ')}: update bench/real-cpu.mjs`);
  return t;
}

const START = '@exit_start[tid]';
const START_UPDATE = `  ${START} = (nsecs, ((uint64)$isa << 32) | $reason);\n`;
const ENTRY_DELETE = `    ${deleteEntry('@exit_start', 'tid', DIALECT)};\n`;
const EXIT_CLEANUP = `tracepoint:sched:sched_process_exit\n{\n  ${deleteEntry('@exit_start', 'tid', DIALECT)};\n}\n\n`;
const base = { intervalMs: INTERVAL_MS, pageFaults: false, handlers: [], dialect: DIALECT };
const generated = (o) => buildProgram({ ...base, ...o }).text;

/** The bpftrace programs, by variant. Candidates are transformations of the generated default. */
function programs() {
  const def = onSyscalls(generated({ latency: true }), true, 'exitscope-default');
  const p = {
    'bpftrace-count': 'BEGIN { printf("attached\\n"); }\ntracepoint:raw_syscalls:sys_enter, tracepoint:raw_syscalls:sys_exit { @c = count(); }\n',
    'exitscope-default': def,
    'exitscope-no-latency': onSyscalls(generated({ latency: false }), false, 'exitscope-no-latency'),
  };
  if (!CANDIDATES) return p;
  // no delete at entry: the start stays, overwritten by the thread's next exit
  p['cand-no-delete'] = replaceExactly(def, ENTRY_DELETE, '', 1, 'cand-no-delete');
  // start times keyed by CPU, not thread (valid only where exit and entry cannot migrate); no thread cleanup then
  const noCleanup = replaceExactly(def, EXIT_CLEANUP, '', 1, 'cand-per-cpu');
  const cpuDelete = replaceExactly(noCleanup, deleteEntry('@exit_start', 'tid', DIALECT), deleteEntry('@exit_start', 'cpu', DIALECT), 1, 'cand-per-cpu');
  p['cand-per-cpu'] = replaceExactly(cpuDelete, START, '@exit_start[cpu]', 2, 'cand-per-cpu');
  // latency for ~1 exit in 16, chosen by the clock's low bits (the cheapest choice; a deterministic
  // counter would add a per-CPU map update per exit); counts stay exact, entry still looks up
  p['cand-sample-16'] = replaceExactly(def, START_UPDATE, `  if ((nsecs & 15) == 0) {\n  ${START_UPDATE}  }\n`, 1, 'cand-sample-16');
  // one map: the exit only stores its start; the entry counts it in the latency map keyed
  // [pid, tid, reason] (the counts are the histograms' totals), no delete
  const lean = onSyscalls(generated({ latency: true, exits: false }), true, 'cand-one-map');
  p['cand-one-map'] = replaceExactly(replaceExactly(lean, '[pid, $s.1] = hist(', '[pid, tid, $s.1] = hist(', 3, 'cand-one-map'), ENTRY_DELETE, '', 1, 'cand-one-map');
  // one copy of each map: no @epoch lookup per event (unbounded maps: what the rotation costs)
  p['cand-no-epoch'] = onSyscalls(generated({ latency: true, copies: 1 }), true, 'cand-no-epoch');
  return p;
}
const PROGRAMS = programs();

/**
 * perf record's ring buffer, per CPU: big enough to hold the whole run (2 samples of ~104 bytes
 * per pair, room for the rest of the system), so that no event is dropped: every one is copied,
 * the per-event work of a perf kvm stat that keeps up. At perf's default size the loop outruns
 * perf's reader here and 11-80% of the samples were lost (cheaper: a dropped event is not
 * copied): that is the perf-record-default-buffer variant, not the reference.
 */
const PERF_BUFFER = `${2 ** Math.ceil(Math.log2((ITERATIONS * BATCHES * 2 * 104 * 1.25) / 2 ** 20 + 16))}M`;
const VARIANTS = ['none', 'bpftrace-count', 'exitscope-default', 'exitscope-no-latency', 'perf-record', 'perf-record-default-buffer', 'perf-stat', ...Object.keys(PROGRAMS).filter((k) => k.startsWith('cand-'))];
const only = opt('only')?.split(',');
if (only) for (const v of only) if (!VARIANTS.includes(v)) fail(`--only: unknown variant ${v} (${VARIANTS.join(', ')})`);
const RUN = VARIANTS.filter((v) => v === 'none' || !only || only.includes(v));

// ---------- the loop ----------
const work = mkdtempSync(join(tmpdir(), 'exitscope-real-cpu-'));
const shmDir = mkdtempSync(join(SHM, 'exitscope-real-cpu-'));
/** Tracers still running: killed if the script ends early (an error), never left attached. */
const live = new Set();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
  rmSync(shmDir, { recursive: true, force: true });
});
const LOOP_C = `#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
/* one getppid() = one raw_syscalls:sys_enter + one sys_exit. Both clocks around each batch: the
   thread's CPU time (what tracers add in this thread's context; not time other tasks took) and
   wall time. Output is written once, at exit (stdout is a pipe: fully buffered). */
static long long ns(clockid_t c) { struct timespec t; clock_gettime(c, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
int main(int argc, char **argv) {
  long n = atol(argv[1]); int batches = atoi(argv[2]);
  printf("pid %d tid %ld syscall %d\\n", getpid(), (long)syscall(SYS_gettid), SYS_getppid);
  for (int b = 0; b < batches; b++) {
    long long w0 = ns(CLOCK_MONOTONIC), c0 = ns(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    long long c1 = ns(CLOCK_THREAD_CPUTIME_ID), w1 = ns(CLOCK_MONOTONIC);
    printf("batch %ld %lld %lld\\n", n, c1 - c0, w1 - w0);
  }
  return 0;
}
`;
writeFileSync(join(work, 'loop.c'), LOOP_C);
const cc = runSync('compiling the loop', 300_000, 'gcc', ['-O2', '-o', join(work, 'loop'), join(work, 'loop.c')], { encoding: 'utf8' });
if (cc.status !== 0) fail(`gcc failed: ${cc.stderr}`);

/**
 * The loop's bound: 2 minutes plus 100 us a pair, some 50 times what a pair costs under the
 * slowest tracer here (perf record, every event copied) on a slow machine.
 */
const LOOP_MS = 120_000 + ITERATIONS * BATCHES * 0.1;

/** Runs the loop (asynchronously: the tracers' output must keep draining meanwhile, else bpftrace blocks). */
async function runLoop(v) {
  const child = spawn('taskset', ['-c', String(LOOP_CPU), join(work, 'loop'), String(ITERATIONS), String(BATCHES)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const r = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (r.stdout += d));
  child.stderr.on('data', (d) => (r.stderr += d));
  // taskset execs the loop: killing the child kills the loop
  const status = await within(`the loop under ${v} (${BATCHES} x ${ITERATIONS} getppid())`, LOOP_MS, new Promise((res) => child.on('close', (code) => res(code))), {
    onTimeout: () => sigkill(child),
    seen: () => `${r.stdout.split('\n').filter((l) => l.startsWith('batch')).length} of ${BATCHES} batches (they print at its exit only)${r.stderr ? `, stderr: ${r.stderr}` : ''}`,
  });
  if (status !== 0) throw new Error(`the loop failed (${status}): ${r.stderr}`);
  const head = /^pid (\d+) tid (\d+) syscall (\d+)$/m.exec(r.stdout);
  const batches = [...r.stdout.matchAll(/^batch (\d+) (\d+) (\d+)$/gm)].map((m) => ({ cpuNs: Number(m[2]) / Number(m[1]), wallNs: Number(m[3]) / Number(m[1]) }));
  if (!head || batches.length !== BATCHES) throw new Error(`unexpected loop output: ${r.stdout}`);
  return { pid: Number(head[1]), tid: Number(head[2]), nr: Number(head[3]), batches };
}

// ---------- tracers ----------
/** utime + stime of a process (all its threads), in ns. */
function processCpuNs(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e9) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}
/** cutime + cstime of this process, in ns: the CPU of every child it has reaped, for its whole life. */
function reapedChildrenCpuNs() {
  const s = readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1e9) / CLK_TCK;
}
const CLK_TCK = Number(runSync('getconf CLK_TCK', 30_000, 'getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function background(cmd, args, env) {
  const child = spawn('taskset', ['-c', OTHER_CPUS.join(','), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  live.add(child);
  const exited = new Promise((res) => child.on('exit', (code, signal) => (live.delete(child), res({ code, signal }))));
  return {
    pid: child.pid,
    out: () => out,
    err: () => err,
    alive: () => child.exitCode === null && child.signalCode === null,
    kill: () => sigkill(child),
    async stop() {
      if (this.alive()) child.kill('SIGINT');
      const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
      // SIGKILLed at 60 s: 30 s more is for the kernel to reap it (one stuck in D state is reported)
      const how = await within(`${cmd} stopping (SIGINT, SIGKILL at 60 s)`, 90_000, exited, { seen: () => `stderr: ${err.slice(-2000)}` });
      clearTimeout(kill);
      return how;
    },
  };
}

async function waitFor(what, test, proc, timeoutMs = 180_000) {
  const t0 = Date.now();
  while (!test()) {
    if (!proc.alive()) throw new Error(`${what} exited before it was attached:\n${proc.err()}`);
    if (Date.now() - t0 > timeoutMs) {
      proc.kill(); // not left attached half-way: a retry starts afresh
      throw new StepTimeout(`${what} not attached after ${timeoutMs / 1000} s, killed:\n${proc.err()}`);
    }
    await sleep(50);
  }
}

/** bpftrace -f json PROGRAM, as the collector runs it; attached when BEGIN has printed (every probe attached). */
async function startBpftrace(name) {
  const file = join(work, `${name}.bt`);
  writeFileSync(file, PROGRAMS[name]);
  const keys = String(mapKeysMax(process.env));
  const p = background('bpftrace', ['-f', 'json', file], { BPFTRACE_MAP_KEYS_MAX: keys, BPFTRACE_MAX_MAP_KEYS: keys });
  await waitFor(`bpftrace (${name})`, () => /"type": "printf", "data": "(exitscope:)?attached/.test(p.out()), p);
  return p;
}

/**
 * perf with a control fifo, started with its events disabled (-D -1): attached once it has
 * acknowledged `enable` (the events are on from then on).
 */
async function startPerf(name, args) {
  const ctl = join(work, `${name}.ctl`);
  const ack = join(work, `${name}.ack`);
  for (const f of [ctl, ack]) {
    rmSync(f, { force: true });
    if (runSync(`mkfifo ${f}`, 30_000, 'mkfifo', [f]).status !== 0) throw new Error(`mkfifo ${f} failed`);
  }
  // O_RDWR: a fifo opened so never blocks on the other side, and never sees EOF if perf dies
  const ctlFd = openSync(ctl, fsc.O_RDWR);
  const ackFd = openSync(ack, fsc.O_RDWR | fsc.O_NONBLOCK);
  const p = background('perf', [...args, '-D', '-1', '--control', `fifo:${ctl},${ack}`]);
  try {
    await waitFor(`perf ${args[0]} (start)`, () => /Events disabled/.test(p.err()), p);
    writeFileSync(ctlFd, 'enable\n');
    let got = '';
    const buf = Buffer.alloc(64);
    await waitFor(`perf ${args[0]} (enable)`, () => {
      try {
        const n = readSync(ackFd, buf, 0, buf.length, null);
        got += buf.toString('utf8', 0, n);
      } catch (e) {
        if (e.code !== 'EAGAIN') throw e;
      }
      return got.includes('ack');
    }, p);
  } finally {
    closeSync(ctlFd);
    closeSync(ackFd);
  }
  return p;
}

// ---------- what each tracer saw ----------
/** bpftrace -f json lines → records. */
function jsonLines(out) {
  return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}
const histCount = (buckets) => buckets.reduce((s, b) => s + b.count, 0);

/**
 * The loop's own events in an exitscope program's output, summed as the collector's deltas do in
 * effect: each copy's values when last printed (the frame that names it cleared), plus the final
 * dump of every copy. With one copy (cand-no-epoch), the final dump alone.
 */
function exitscopeCounts(out, loop) {
  const exitKey = `${loop.pid},${loop.tid},${loop.nr},${loop.nr}`;
  const reasonKey = String((BigInt(loop.nr) << 32n) | BigInt(loop.nr));
  let cleared = null;
  let final = false;
  const counts = { enters: 0, timedExits: 0 };
  for (const r of jsonLines(out)) {
    if (r.type === 'printf') {
      const begin = /^exitscope:begin \d+(?: (\d+) (\d+|-))?/.exec(r.data);
      if (begin) cleared = begin[2] !== undefined && begin[2] !== '-' ? begin[2] : null;
      if (r.data.startsWith('exitscope:final')) final = true;
      if (r.data.startsWith('exitscope:end')) cleared = null;
      continue;
    }
    if (r.type !== 'map' && r.type !== 'hist') continue;
    for (const [name, values] of Object.entries(r.data)) {
      const m = /^@(exits|exit_ns)(\d?)$/.exec(name);
      if (!m || !(final || (cleared !== null && m[2] === cleared))) continue;
      for (const [k, v] of Object.entries(values)) {
        const parts = k.split(',');
        if (m[1] === 'exits' && k === exitKey) counts.enters += v;
        // [pid, reason], or [pid, tid, reason] (cand-one-map)
        if (m[1] === 'exit_ns' && parts[0] === String(loop.pid) && parts.at(-1) === reasonKey && (parts.length === 2 || parts[1] === String(loop.tid))) counts.timedExits += histCount(v);
      }
    }
  }
  return counts;
}

/**
 * perf report --stats: per event, the samples written and the samples lost (ring buffer full: the
 * event was dropped in the kernel, not copied); and the loop's own samples (perf report by pid).
 */
function perfRecordCounts(file, loop) {
  // perf report reads the whole file (up to PERF_BUFFER per CPU): 10 minutes each
  const stats = runSync('perf report --stats', 600_000, 'perf', ['report', '-i', file, '--stats'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const seen = { samples: 0, lostSamples: 0 };
  let section = '';
  for (const line of `${stats.stdout}`.split('\n')) {
    const head = /^(\S.*) stats:$/.exec(line);
    if (head) section = head[1];
    if (!/^raw_syscalls:sys_(enter|exit)$/.test(section)) continue;
    const m = /^\s*(SAMPLE|LOST_SAMPLES) events:\s+(\d+)/.exec(line);
    if (m) seen[m[1] === 'SAMPLE' ? 'samples' : 'lostSamples'] += Number(m[2]);
  }
  const byPid = runSync('perf report --sort pid', 600_000, 'perf', ['report', '-i', file, '--sort', 'pid', '--stdio', '-n', '-q'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  // the pid may have two lines (taskset, then loop after exec): sum them
  const mine = [...byPid.stdout.matchAll(new RegExp(`^\\s*[\\d.]+%\\s+(\\d+)\\s+${loop.pid}:`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
  return { ...seen, loopSamples: mine, loopPairsMade: ITERATIONS * BATCHES, bytes: statSync(file).size };
}

function perfStatCounts(err) {
  const c = {};
  for (const m of err.matchAll(/^(\d+),[^,]*,raw_syscalls:(sys_enter|sys_exit),/gm)) c[m[2]] = Number(m[1]);
  return c;
}

// ---------- one run of one variant ----------
async function runVariant(v, round) {
  let tracer;
  let perfData;
  // a tracer that did not attach in time (a slow moment: bpftrace compiling on a busy machine) was
  // killed: started once more; one that exited with an error is not (it would again)
  const attach = (start) => retryOnce(`${v}, round ${round + 1}`, start, log);
  if (v.startsWith('bpftrace') || v.startsWith('exitscope') || v.startsWith('cand-')) tracer = await attach(() => startBpftrace(v));
  else if (v.startsWith('perf-record')) {
    perfData = join(shmDir, `perf-${round}.data`);
    const buffer = v === 'perf-record' ? ['-m', PERF_BUFFER] : [];
    tracer = await attach(() => startPerf('record', ['record', '-a', '--no-buildid', ...buffer, '-e', 'raw_syscalls:sys_enter', '--exclude-perf', '-e', 'raw_syscalls:sys_exit', '--exclude-perf', '-o', perfData]));
  } else if (v === 'perf-stat') tracer = await attach(() => startPerf('stat', ['stat', '-a', '-x,', '-e', 'raw_syscalls:sys_enter', '-e', 'raw_syscalls:sys_exit']));
  // the tracer's own CPU from attached to exited (startup, e.g. bpftrace compiling, left out):
  // its whole life's CPU, counted into ours when it is reaped, less what it had used when attached
  const cpuAtAttach = tracer ? processCpuNs(tracer.pid) : 0;
  const loop = await runLoop(v);
  const pairs = ITERATIONS * BATCHES;
  const run = { variant: v, round, loopPid: loop.pid, batches: loop.batches, cpuNs: median(loop.batches.map((b) => b.cpuNs)), wallNs: median(loop.batches.map((b) => b.wallNs)), tracerCpuNsPerPair: 0, pairs };
  if (!tracer) return run;
  const reaped0 = reapedChildrenCpuNs();
  const how = await tracer.stop();
  run.tracerCpuNsPerPair = (reapedChildrenCpuNs() - reaped0 - cpuAtAttach) / pairs;
  if (!(how.code === 0 || how.code === 130 || how.signal === 'SIGINT')) throw new Error(`${v} ended with ${how.code ?? how.signal}:\n${tracer.err()}`);
  if (v === 'bpftrace-count') {
    const c = jsonLines(tracer.out()).find((r) => r.type === 'map' && '@c' in r.data);
    run.seen = { systemWideEvents: c ? c.data['@c'] : Number.NaN };
  } else if (v.startsWith('perf-record')) {
    run.seen = perfRecordCounts(perfData, loop);
    rmSync(perfData, { force: true });
  } else if (v === 'perf-stat') run.seen = perfStatCounts(tracer.err());
  else run.seen = exitscopeCounts(tracer.out(), loop);
  run.saw = sawAll(v, run.seen, pairs);
  if (!run.saw.complete) log(`${v} did not see every event of the loop: ${run.saw.text}`);
  return run;
}

/**
 * Did the tracer see every event of the loop (pairs = getppid calls made)? exitscope's maps are
 * keyed by thread and syscall: its counts must be exact; the others count system-wide (at least).
 */
function sawAll(v, seen, pairs) {
  if (v === 'bpftrace-count') return { complete: seen.systemWideEvents >= 2 * pairs, text: 'at least 2 x pairs (system-wide)' };
  if (v === 'perf-stat') return { complete: seen.sys_enter >= pairs && seen.sys_exit >= pairs, text: 'at least pairs of each (system-wide)' };
  if (v.startsWith('perf-record')) {
    const lost = seen.lostSamples / (seen.samples + seen.lostSamples);
    return { complete: seen.lostSamples === 0 && seen.loopSamples >= 2 * pairs, text: seen.lostSamples === 0 ? 'all of the loop\'s 2 x pairs samples, none lost' : `${Math.round(lost * 100)}% of samples lost` , lostFraction: lost };
  }
  const exits = v === 'cand-one-map' ? seen.timedExits : seen.enters; // cand-one-map counts exits in its latency map
  const timed = v === 'exitscope-no-latency' ? pairs : seen.timedExits;
  if (v === 'cand-sample-16') return { complete: exits === pairs, text: `counts exact; latency for ${((100 * timed) / pairs).toFixed(1)}% of exits`, timedFraction: timed / pairs };
  return { complete: exits === pairs && timed === pairs, text: exits === pairs && timed === pairs ? 'exact' : `${exits} exits, ${timed} timed, of ${pairs}` };
}

// ---------- statistics ----------
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? Number.NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
const r1 = (x) => Math.round(x * 10) / 10;
const r2 = (x) => Math.round(x * 100) / 100;

// ---------- main ----------
const machine = {
  host: hostname(),
  kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  cpuModel: /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown',
  cpus: NCPU,
  hypervisor: /\bhypervisor\b/.test(readFileSync('/proc/cpuinfo', 'utf8')),
  bpfJit: readFileSync('/proc/sys/net/core/bpf_jit_enable', 'utf8').trim(),
  mitigations: Object.fromEntries(readdirSync('/sys/devices/system/cpu/vulnerabilities').map((f) => [f, readFileSync(`/sys/devices/system/cpu/vulnerabilities/${f}`, 'utf8').trim()])),
  ...tools,
  node: process.version,
};
const loadBefore = loadavg();
log(`${RUN.length} variants x ${ROUNDS} rounds, ${BATCHES} x ${ITERATIONS} getppid() per run on CPU ${LOOP_CPU}, tracers on CPU ${OTHER_CPUS.join(',')}, interval ${INTERVAL_MS} ms; load average ${loadBefore.map(r2).join(' ')}`);
const runs = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const v of RUN) {
    const run = await runVariant(v, round);
    runs.push(run);
    log(`round ${round + 1}/${ROUNDS} ${v}: ${r1(run.cpuNs)} ns CPU, ${r1(run.wallNs)} ns wall per pair${run.seen ? ` ${JSON.stringify(run.seen)}` : ''}`);
  }
}
const loadAfter = loadavg();

// per round, the added cost is paired with that round's baseline
const base0 = (round, key) => runs.find((r) => r.variant === 'none' && r.round === round)[key];
const summary = RUN.map((v) => {
  const mine = runs.filter((r) => r.variant === v);
  const added = mine.map((r) => r.cpuNs - base0(r.round, 'cpuNs'));
  const addedWall = mine.map((r) => r.wallNs - base0(r.round, 'wallNs'));
  return {
    variant: v,
    candidate: v.startsWith('cand-'),
    cpuNs: { median: median(mine.map((r) => r.cpuNs)), min: Math.min(...mine.map((r) => r.cpuNs)), max: Math.max(...mine.map((r) => r.cpuNs)) },
    addedCpuNs: { median: median(added), min: Math.min(...added), max: Math.max(...added) },
    addedWallNs: { median: median(addedWall), min: Math.min(...addedWall), max: Math.max(...addedWall) },
    tracerCpuNsPerPair: median(mine.map((r) => r.tracerCpuNsPerPair)),
    saw: v === 'none' ? null : { everyRound: mine.every((r) => r.saw.complete), text: mine.every((r) => r.saw.complete) ? mine[0].saw.text : mine.map((r) => r.saw.text).join('; ') },
  };
});
const perfAdded = summary.find((s) => s.variant === 'perf-record')?.addedCpuNs.median;
// perf stat's added cost is the path every tracer here shares (syscall tracing's slow path, the
// tracepoint's record) plus a count: above it, each tracer's own work
const floor = summary.find((s) => s.variant === 'perf-stat')?.addedCpuNs.median;
for (const s of summary) {
  s.vsPerfRecord = perfAdded ? s.addedCpuNs.median / perfAdded : null;
  // the same ratio round by round (each against that round's perf record): its spread
  const perRound = runs.filter((r) => r.variant === s.variant).map((r) => {
    const p = runs.find((x) => x.variant === 'perf-record' && x.round === r.round);
    return p ? (r.cpuNs - base0(r.round, 'cpuNs')) / (p.cpuNs - base0(r.round, 'cpuNs')) : Number.NaN;
  });
  s.vsPerfRecordPerRound = perfAdded ? { min: Math.min(...perRound), max: Math.max(...perRound) } : null;
  s.aboveFloorNs = floor !== undefined ? s.addedCpuNs.median - floor : null;
  s.aboveFloorVsPerfRecord = floor !== undefined && perfAdded ? s.aboveFloorNs / (perfAdded - floor) : null;
}

const result = {
  date: new Date().toISOString(),
  command: `node bench/real-cpu.mjs ${argv.join(' ')}`.trim(),
  machine,
  loadAverage: { before: loadBefore, after: loadAfter },
  settings: { perfRecordBuffer: PERF_BUFFER, rounds: ROUNDS, iterations: ITERATIONS, batches: BATCHES, loopCpu: LOOP_CPU, tracerCpus: OTHER_CPUS, intervalMs: INTERVAL_MS, mapKeysMax: mapKeysMax(process.env), dialect: DIALECT },
  programs: PROGRAMS,
  summary,
  runs,
};
mkdirSync(join(OUT, '..'), { recursive: true });
writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);

const fmt = (x) => (Number.isFinite(x) ? r1(x).toLocaleString('en-US') : '–');
const lines = [
  '| variant | CPU ns per pair (median) | added over none: median (min..max) | added / perf record\'s: median (per round) | above perf stat\'s | that / perf record\'s | added wall ns (median) | tracer process CPU ns per pair, attach to exit | events of the loop seen |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ...summary.map((s) => `| ${s.candidate ? `${s.variant} (candidate)` : s.variant} | ${fmt(s.cpuNs.median)} | ${s.variant === 'none' ? '–' : `${fmt(s.addedCpuNs.median)} (${fmt(s.addedCpuNs.min)}..${fmt(s.addedCpuNs.max)})`} | ${s.variant === 'none' || s.vsPerfRecord === null ? '–' : `${r2(s.vsPerfRecord)} (${r2(s.vsPerfRecordPerRound.min)}..${r2(s.vsPerfRecordPerRound.max)})`} | ${s.variant === 'none' || s.aboveFloorNs === null ? '–' : fmt(s.aboveFloorNs)} | ${s.variant === 'none' || s.aboveFloorVsPerfRecord === null ? '–' : r2(s.aboveFloorVsPerfRecord)} | ${s.variant === 'none' ? '–' : fmt(s.addedWallNs.median)} | ${s.variant === 'none' ? '–' : fmt(s.tracerCpuNsPerPair)} | ${s.saw ? (s.saw.everyRound ? s.saw.text : `NOT ALL: ${s.saw.text}`) : '–'} |`),
];
process.stdout.write(`${lines.join('\n')}\n\nload average before ${loadBefore.map(r2).join(' ')}, after ${loadAfter.map(r2).join(' ')}; results: ${OUT}\n`);
