#!/usr/bin/env node
// Records test/fixtures/bpftrace/sigint-dropped-clear.bpftrace.jsonl: real bpftrace output of
// exitscope's rotating program stopped by SIGINT while bpftrace was doing an interval's clears, so
// that the clears after that point were dropped and END printed a copy once more
// (docs/lab.md#bounded-maps, "A stop can lose a clear").
//
// Needs no lab and no KVM: the program is exitscope's own (buildProgram, default copies), with its
// two counting probes moved onto tracepoints that fire natively at a high rate: raw_syscalls:sys_enter
// counts into @exits (a random "reason" out of 800: many keys, so that a clear takes long enough
// to be caught), raw_syscalls:sys_exit into @faults and @fault_regions_2m. Each probe also counts
// into a map nothing clears (@total, @ftotal): bpftrace's own dump at exit prints them, and they
// are what the deltas must add up to. SIGINT comes at a random time; runs that did not stop inside
// the clears are thrown away, until one did.
//
// As root, on any host with bpftrace:  npm run build && node scripts/record-sigint-fixture.mjs
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const { buildProgram } = await import(join(repo, 'dist/src/probes/program.js'));
const out = join(repo, 'test/fixtures/bpftrace/sigint-dropped-clear.bpftrace.jsonl');
const INTERVAL_MS = 20;
const KEYS_MAX = 16_384; // above what one copy holds in an interval here (a few thousand): nothing is dropped by a full map
const TRIALS = 200;

/** exitscope's program with its two counting probes on raw_syscalls (each replacement must match once). */
function program() {
  let text = buildProgram({ intervalMs: INTERVAL_MS, latency: false, pageFaults: true, handlers: [] }).text;
  const swap = (from, to) => {
    const at = text.indexOf(from);
    if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`the program no longer has one ${JSON.stringify(from)}: update this script`);
    text = text.replace(from, to);
  };
  swap('tracepoint:kvm:kvm_exit\n{\n  $isa = args->isa;\n  $reason = args->exit_reason;\n', 'tracepoint:raw_syscalls:sys_enter\n{\n  $isa = 2;\n  $reason = rand % 800;\n  @total = count();\n');
  swap('tracepoint:kvm:kvm_page_fault\n{\n  $code = args->error_code;\n  $region = args->fault_address >> 21;\n', 'tracepoint:raw_syscalls:sys_exit\n{\n  $code = rand % 3;\n  $region = 7;\n  @ftotal = count();\n');
  return text;
}

/** The copies END printed that a frame marked cleared at exactly END's pending time for them: a dropped clear. */
function droppedClears(lines) {
  const ended = new Set();
  let open;
  let final;
  const printedAtEnd = new Set();
  for (const l of lines) {
    const m = /"data": "exitscope:(begin|end|final)([ 0-9-]*)/.exec(l);
    if (m?.[1] === 'begin') open = m[2].trim().split(' ');
    else if (m?.[1] === 'end' && open && !final) ended.add(`${open[0]} ${open[2]}`);
    else if (m?.[1] === 'final') final = m[2].trim().split(' ');
    else if (final && !l.includes('exitscope:end')) {
      const name = /"@(exits|faults|fault_regions_2m)(\d)": \{"/.exec(l);
      if (name) printedAtEnd.add(name[2]);
    }
  }
  if (!final) return [];
  return final.slice(1).flatMap((t, copy) => (t !== '0' && ended.has(`${t} ${copy}`) && printedAtEnd.has(String(copy)) ? [copy] : []));
}

function trial(file) {
  return new Promise((resolve, reject) => {
    const bt = spawn('bpftrace', ['-f', 'json', file], { env: { ...process.env, BPFTRACE_MAP_KEYS_MAX: String(KEYS_MAX), BPFTRACE_MAX_MAP_KEYS: String(KEYS_MAX) }, stdio: ['ignore', 'pipe', 'inherit'] });
    // the load: two syscalls a byte
    const load = spawn('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1'], { stdio: 'ignore' });
    const chunks = [];
    let attached = false;
    bt.stdout.on('data', (d) => {
      chunks.push(d);
      if (!attached && d.includes('exitscope:attached')) {
        attached = true;
        setTimeout(() => bt.kill('SIGINT'), 100 + Math.floor(Math.random() * 150));
      }
    });
    bt.on('error', reject);
    bt.on('close', (code) => {
      load.kill('SIGKILL');
      if (code !== 0) reject(new Error(`bpftrace exited with ${code}`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'exitscope-sigint-'));
try {
  const file = join(dir, 'exitscope-syscalls.bt');
  writeFileSync(file, program());
  for (let i = 1; i <= TRIALS; i++) {
    const text = await trial(file);
    const lines = text.split('\n').filter((l) => l.length > 0);
    const copies = droppedClears(lines);
    process.stderr.write(`trial ${i}: ${copies.length ? `clear of copy ${copies.join(', ')} dropped` : 'no clear dropped'}\n`);
    if (copies.length === 0) continue;
    writeFileSync(out, `${lines.join('\n')}\n`);
    const provenance = {
      recordedBy: 'scripts/record-sigint-fixture.mjs',
      kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
      bpftrace: execFileSync('bpftrace', ['--version'], { encoding: 'utf8' }).trim(),
      command: `BPFTRACE_MAP_KEYS_MAX=${KEYS_MAX} bpftrace -f json exitscope-syscalls.bt (SIGINT 0.1-0.25 s after attach; load: dd if=/dev/zero of=/dev/null bs=1)`,
      program: 'src/probes/program.ts buildProgram({ intervalMs: 20, latency: false, pageFaults: true, handlers: [] }), kvm_exit -> raw_syscalls:sys_enter, kvm_page_fault -> raw_syscalls:sys_exit, plus @total/@ftotal',
      droppedClearOfCopies: copies,
      trial: i,
      recorded: new Date().toISOString(),
    };
    writeFileSync(`${out}.provenance.json`, `${JSON.stringify(provenance, null, 2)}\n`);
    process.stderr.write(`wrote ${out} (${text.length} bytes)\n`);
    process.exitCode = 0;
    break;
  }
  if (process.exitCode !== 0) {
    process.stderr.write(`no clear dropped in ${TRIALS} trials: try again (or a larger rand range)\n`);
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
