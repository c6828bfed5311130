#!/usr/bin/env node
// Stops exitscope's rotating program at random moments, many times, and checks every count: what the
// readers make of bpftrace's output against what the kernel counted. No lab and no KVM: the program is
// exitscope's own (buildProgram, default copies, a short interval), its two counting probes moved onto
// raw_syscalls, which fire natively (as scripts/record-sigint-fixture.mjs does), filtered to one load
// process. Each probe also counts into a map nothing clears (@total, @ftotal), which bpftrace's own dump
// prints at exit: the truth the deltas must add up to. A trial: bpftrace attached, the load runs for a
// random time, is killed and reaped (as `exitscope run` stops tracing only once COMMAND is gone), then
// SIGINT comes after a random delay, often while bpftrace is still printing and clearing an interval.
//
// As root, after `npm run build`:
//   node scripts/stress-stop.mjs [--trials N] [--interval MS] [--threads N] [--codes N] [--no-thread-keys]
//                                [--bpftrace 'chroot DIR bpftrace'] [--keep DIR]
// --threads 2 --codes 64: two threads of the load add the same @faults keys at once after every
// rotation, which bpftrace 0.20-0.23 loses a count to unless keys are by thread (probes/dialect.ts).
// --bpftrace runs another bpftrace, e.g. a userland's from the lab's cache (its /proc and /sys must be
// mounted). A trial whose counts differ is kept in --keep (default /tmp) for scripts/explain-raw.mjs.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const { buildProgram } = await import(join(repo, 'dist/src/probes/program.js'));
const { explainRaw } = await import(join(repo, 'dist/src/diagnose/explain-raw.js'));
const { parseBpftraceVersion } = await import(join(repo, 'dist/src/probes/capabilities.js'));
const { PORTABLE_DIALECT, hasRacyFirstInsert, supportsDeleteWithKey } = await import(join(repo, 'dist/src/probes/dialect.js'));

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const TRIALS = Number(opt('--trials', '100'));
const INTERVAL_MS = Number(opt('--interval', '20'));
const BPFTRACE = opt('--bpftrace', 'bpftrace').split(' ');
const KEEP = opt('--keep', tmpdir());
/** --record FILE: keep one trial as a test fixture (with FILE.provenance.json): the first that differs, or with keys by thread the first with two threads in @faults. */
const RECORD = opt('--record', undefined);
const THREADS = Number(opt('--threads', '1'));
const CODES = Number(opt('--codes', '3'));
const KEYS_MAX = 16_384;
// the program exitscope would run with this bpftrace (probes/dialect.ts); --no-thread-keys shows why keys by thread are there
const VERSION = parseBpftraceVersion(execFileSync(BPFTRACE[0], [...BPFTRACE.slice(1), '--version'], { encoding: 'utf8' }));
const DIALECT = { ...PORTABLE_DIALECT, deleteWithKey: supportsDeleteWithKey(VERSION), threadKeys: hasRacyFirstInsert(VERSION) && !args.includes('--no-thread-keys') };
/**
 * The load: one process making syscalls as fast as it can, from THREADS threads. With more than one,
 * threads of one process hit the same keys at once (as a VM's vCPU threads do: @faults is keyed by
 * process), which is what a racy first insert of a key needs.
 */
const LOAD = THREADS === 1
  ? ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1']
  : [process.execPath, '-e', `const { Worker } = require('node:worker_threads'); for (let i = 0; i < ${THREADS}; i++) new Worker("const fs = require('node:fs'); for (;;) fs.fstatSync(0);", { eval: true });`];

/** exitscope's program with its two counting probes on raw_syscalls of one process (each replacement must match once). */
function program(pid) {
  let text = buildProgram({ intervalMs: INTERVAL_MS, latency: false, pageFaults: true, handlers: [], pids: [pid], dialect: DIALECT }).text;
  const swap = (from, to) => {
    const at = text.indexOf(from);
    if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`the program no longer has one ${JSON.stringify(from)}: update this script`);
    text = text.replace(from, to);
  };
  swap(`tracepoint:kvm:kvm_exit /(pid == ${pid})/\n{\n  $isa = args->isa;\n  $reason = args->exit_reason;\n`, `tracepoint:raw_syscalls:sys_enter /(pid == ${pid})/\n{\n  $isa = 2;\n  $reason = rand % 200;\n  @total = count();\n`);
  swap(`tracepoint:kvm:kvm_page_fault /(pid == ${pid})/\n{\n  $code = args->error_code;\n  $region = args->fault_address >> 21;\n`, `tracepoint:raw_syscalls:sys_exit /(pid == ${pid})/\n{\n  $code = rand % ${CODES};\n  $region = 7;\n  @ftotal = count();\n`);
  return text;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One trial: [bpftrace's stdout, its stderr]. */
async function trial(dir) {
  // the load first, stopped: its pid goes into the program
  const load = spawn(LOAD[0], LOAD.slice(1), { stdio: 'ignore' });
  const loadGone = new Promise((r) => load.on('exit', r));
  load.kill('SIGSTOP');
  const file = join(dir, 'stress.bt');
  writeFileSync(file, program(load.pid));
  // in a chroot, the same path under its root
  if (BPFTRACE[0] === 'chroot') writeFileSync(join(BPFTRACE[1], file), program(load.pid));
  const bt = spawn(BPFTRACE[0], [...BPFTRACE.slice(1), '-f', 'json', file], { env: { ...process.env, BPFTRACE_MAP_KEYS_MAX: String(KEYS_MAX), BPFTRACE_MAX_MAP_KEYS: String(KEYS_MAX) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  const err = [];
  bt.stderr.on('data', (d) => err.push(d));
  const closed = new Promise((resolve, reject) => {
    bt.on('error', reject);
    bt.on('close', (code, signal) => resolve({ code, signal }));
  });
  let onAttached;
  const attached = new Promise((r) => (onAttached = r));
  bt.stdout.on('data', (d) => {
    out.push(d);
    if (d.includes('exitscope:attached')) onAttached();
  });
  await Promise.race([attached, closed]);
  load.kill('SIGCONT');
  await sleep(50 + Math.floor(Math.random() * 250));
  load.kill('SIGKILL');
  await loadGone;
  await sleep(Math.floor(Math.random() * 2 * INTERVAL_MS));
  bt.kill('SIGINT');
  const end = await closed;
  if (end.code !== 0) throw new Error(`bpftrace ended with ${end.code ?? end.signal}: ${Buffer.concat(err).toString().slice(-500)}`);
  return Buffer.concat(out);
}

/** Threads seen in @faults keys by thread ([pid, tid, code]): a fixture of keys by thread should have more than one. */
function faultThreads(bytes) {
  const tids = new Set();
  for (const line of bytes.toString('utf8').split('\n')) if (line.includes('"@faults')) for (const m of line.matchAll(/"\d+,(\d+),\d+":/g)) tids.add(m[1]);
  return tids.size;
}

/** The never-cleared totals bpftrace's own dump printed at exit. */
function truth(text) {
  const n = (name) => {
    const m = new RegExp(`"@${name}": (\\d+)`).exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { exits: n('total'), faults: n('ftotal') };
}

process.stdout.write(`bpftrace ${VERSION?.version ?? 'unknown'}: keys by thread ${DIALECT.threadKeys ? 'on' : 'off'}, ${THREADS} load thread(s), ${CODES} fault codes\n`);
const dir = mkdtempSync(join(tmpdir(), 'exitscope-stress-'));
mkdirSync(join(dir), { recursive: true });
if (BPFTRACE[0] === 'chroot') mkdirSync(join(BPFTRACE[1], dir), { recursive: true });
let bad = 0;
let recorded = false;
try {
  for (let i = 1; i <= TRIALS; i++) {
    const bytes = await trial(dir);
    const want = truth(bytes.toString('utf8'));
    const got = { exits: explainRaw(bytes, 'exits'), faults: explainRaw(bytes, 'faults') };
    const ok = got.exits.total.fast === want.exits && got.exits.total.reference === want.exits && got.faults.total.fast === want.faults && got.faults.total.reference === want.faults;
    const frames = got.exits.frames.length;
    process.stdout.write(`trial ${i}: ${frames} frames (${got.exits.markers} markers), exits ${got.exits.total.fast}/${got.exits.total.reference}/${want.exits}, faults ${got.faults.total.fast}/${got.faults.total.reference}/${want.faults} ${ok ? 'ok' : 'DIFFERENT'}\n`);
    if (RECORD && !recorded && (DIALECT.threadKeys ? faultThreads(bytes) > 1 : !ok)) {
      recorded = true;
      writeFileSync(RECORD, bytes);
      const provenance = {
        recordedBy: 'scripts/stress-stop.mjs',
        kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
        bpftrace: VERSION?.version ?? 'unknown',
        command: `node scripts/stress-stop.mjs ${args.join(' ')}`,
        program: `src/probes/program.ts buildProgram({ intervalMs: ${INTERVAL_MS}, latency: false, pageFaults: true, handlers: [], pids: [LOAD], dialect: ${JSON.stringify(DIALECT)} }), kvm_exit -> raw_syscalls:sys_enter, kvm_page_fault -> raw_syscalls:sys_exit ($code = rand % ${CODES}), plus @total/@ftotal (never cleared: the kernel's counts)`,
        load: `${THREADS} thread(s) of one process making syscalls, killed and reaped before SIGINT`,
        kernelCounts: want,
        readersCounted: { exits: got.exits.total.fast, faults: got.faults.total.fast },
        trial: i,
        recorded: new Date().toISOString(),
      };
      writeFileSync(`${RECORD}.provenance.json`, `${JSON.stringify(provenance, null, 2)}\n`);
      process.stdout.write(`  recorded ${RECORD}\n`);
    }
    if (!ok) {
      bad++;
      const kept = join(KEEP, `stress-stop-${Date.now()}.bpftrace.raw`);
      writeFileSync(kept, bytes);
      process.stdout.write(`  kept ${kept}\n`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (BPFTRACE[0] === 'chroot') rmSync(join(BPFTRACE[1], dir), { recursive: true, force: true });
}
process.stdout.write(`${TRIALS} trials, ${bad} with a count that differs (fast/reference/kernel)\n`);
process.exitCode = bad ? 1 : 0;
