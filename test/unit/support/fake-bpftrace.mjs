#!/usr/bin/env node
// A stand-in for bpftrace in unit tests of the collector's process handling (the real thing is
// tested in the lab, test/e2e). It replays a real capture's records: the attach lines, then one
// interval frame every 30 ms; on SIGINT the next frame as the final one, then exit 0.
// FAKE_BPFTRACE_MODE: normal | crash (exit 1 after 2 frames, the first time only) | crash-always | eperm
//   | no-module-btf (bpftrace 0.17 on kernel 5.10, as seen in the lab: ../shared/research/compat-notes.md)
//   | never-attaches (compiles forever: no output; SIGINT ends it)
//   | helper-error (after each of the first 3 frames, bpftrace 0.23's record of a failed map update,
//     as in test/fixtures/bpftrace/racy-first-insert-0.23.bpftrace.jsonl, on a counting map's line)
//   | helper-error-other (the same record on a line that updates no counting map)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { framesOf } from './capture-frames.mjs';

const capture = readFileSync(join(import.meta.dirname, '../../fixtures/bpftrace/mix-3-vcpus-2-npt-on.bpftrace.jsonl'), 'utf8').trim().split('\n');
const mode = process.env.FAKE_BPFTRACE_MODE ?? 'normal';
const once = process.env.FAKE_BPFTRACE_STATE; // a file: exists after the first run

if (mode === 'no-module-btf') {
  process.stderr.write("definitions.h:15:3: error: unknown type name 'u32'\nERROR: Include headers with missing type definitions or install BTF information to your system.\n");
  process.exit(1);
}
if (mode === 'never-attaches') setInterval(() => undefined, 1000);
if (mode === 'eperm') {
  process.stderr.write('ERROR: Operation not permitted: could not load the program\n');
  process.exit(1);
}
const frames = framesOf(capture);
// the record as bpftrace 0.23 printed it, its line moved to the first @faults update of the program we were given
const HELPER_ERROR = (() => {
  const rec = JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/bpftrace/racy-first-insert-0.23.bpftrace.jsonl'), 'utf8').split('\n').find((l) => l.includes('"helper_error"')));
  const program = existsSync(process.argv.at(-1) ?? '') ? readFileSync(process.argv.at(-1), 'utf8').split('\n') : [];
  // helper-error-other: on the BEGIN probe's line instead, which updates no counting map
  const at = program.findIndex((l) => (mode === 'helper-error-other' ? l.startsWith('BEGIN') : /@faults\d*\[.*\] = count\(/.test(l)));
  return JSON.stringify({ ...rec, line: at + 1 });
})();
let i = 0;
let timer;
// ready for SIGINT before saying it is attached: a SIGINT sent as soon as the
// collector has seen the attach lines must never find the default action (death, no final frame)
process.on('SIGINT', () => {
  clearInterval(timer);
  const last = frames[Math.min(i, frames.length - 1)];
  process.stdout.write(`${last.map((l) => l.replace('exitscope:begin', 'exitscope:final')).join('\n')}\n`);
  process.exit(0);
});
const crash = mode === 'crash-always' || (mode === 'crash' && !(once && existsSync(once)));
if (mode !== 'never-attaches') timer = setInterval(() => {
  if (crash && i === 2) {
    if (once) writeFileSync(once, 'crashed');
    process.exit(1);
  }
  if (i < frames.length - 1) process.stdout.write(`${frames[i++].join('\n')}\n`);
  if ((mode === 'helper-error' || mode === 'helper-error-other') && i <= 3) process.stdout.write(`${HELPER_ERROR}\n`);
}, 30);
if (mode !== 'never-attaches') process.stdout.write(`${capture[0]}\n${capture[1]}\n`); // attached_probes, exitscope:attached
