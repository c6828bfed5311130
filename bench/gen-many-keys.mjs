#!/usr/bin/env node
// Writes a recording with many distinct keys, in the real message schema (src/protocol/messages.ts):
// a hello, one `vm` message per VM process (its vCPU threads named), S snapshots that each carry
// every one of the N exit keys (pid x tid x reason), a latency histogram per (pid, reason), a few
// page faults per VM, and an `end`. What a big host with many VMs recorded for a while looks like.
//
//   node bench/gen-many-keys.mjs --keys 1000000 --snapshots 1 -o /tmp/many.jsonl
//
// N is split as pids x tids x reasons with 100 reasons (SVM codes, known and unknown) and
// 10 threads per VM process when N allows; the actual N is printed (it is the product).
import { closeSync, openSync, writeSync } from 'node:fs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('--keys', 10_000));
const S = Number(arg('--snapshots', 1));
const out = arg('-o', '/tmp/exitscope-many-keys.jsonl');

const REASONS_PER = Math.min(100, N);
const TIDS_PER = Math.max(1, Math.min(10, Math.floor(N / REASONS_PER)));
const PIDS = Math.max(1, Math.round(N / (REASONS_PER * TIDS_PER)));
// known SVM reasons first (0x60 INTR, 0x78 HLT, 0x7b IOIO, 0x400 NPF, ...), then codes no table names
const KNOWN = [0x60, 0x61, 0x62, 0x64, 0x6e, 0x72, 0x77, 0x78, 0x7b, 0x7c, 0x81, 0x400];
const REASONS = [...KNOWN, ...Array.from({ length: REASONS_PER }, (_, i) => 0x500 + i)].slice(0, REASONS_PER);
const pidOf = (p) => 10_000 + p * 100;
const tidOf = (p, t) => pidOf(p) + 1 + t;

const fd = openSync(out, 'w');
let bytes = 0;
// writes in chunks: a 10^6-key snapshot is one 50 MB line and must not be one string twice over
let buf = '';
const put = (s) => {
  buf += s;
  if (buf.length > 1 << 20) flush();
};
const flush = () => {
  bytes += writeSync(fd, buf);
  buf = '';
};

put(`${JSON.stringify({ type: 'hello', v: 1, startedAt: '2026-01-01T00:00:00.000Z', host: 'bench', kernel: '6.1.0-bench', bpftrace: '0.17.0', vendor: 'amd', tdp: true, intervalMs: 1000, probes: [], handlers: ['kvm_tdp_page_fault'], filters: { pids: [], reasons: [] } })}\n`);
for (let p = 0; p < PIDS; p++) {
  const vcpus = Object.fromEntries(Array.from({ length: TIDS_PER }, (_, t) => [String(tidOf(p, t)), t]));
  put(`${JSON.stringify({ type: 'vm', event: 'appeared', t: 1, pid: pidOf(p), name: `vm-${p}`, source: 'qemu', vcpus })}\n`);
}
for (let s = 0; s < S; s++) {
  put(`{"type":"snapshot","seq":${s},"t":${(s + 1) * 1000},"ms":1000${s === S - 1 ? ',"final":true' : ''},"exits":[`);
  let first = true;
  for (let p = 0; p < PIDS; p++)
    for (let t = 0; t < TIDS_PER; t++)
      for (const r of REASONS) {
        put(`${first ? '' : ','}{"pid":${pidOf(p)},"tid":${tidOf(p, t)},"isa":2,"reason":${r},"n":${1 + ((p + t + r + s) % 7)}}`);
        first = false;
      }
  put('],"exitNs":[');
  first = true;
  for (let p = 0; p < PIDS; p++)
    for (const r of REASONS) {
      put(`${first ? '' : ','}{"pid":${pidOf(p)},"isa":2,"reason":${r},"b":[[4096,${1 + (r % 5)}],[8192,${1 + (p % 3)}],[65536,1]]}`);
      first = false;
    }
  put('],"faults":[');
  put(Array.from({ length: PIDS }, (_, p) => `{"pid":${pidOf(p)},"code":4294967302,"n":${1 + (p % 4)}}`).join(','));
  put('],"regions":[');
  put(Array.from({ length: PIDS }, (_, p) => `{"pid":${pidOf(p)},"region":${p % 512},"n":2}`).join(','));
  put('],"handlers":[');
  put(Array.from({ length: PIDS }, (_, p) => `{"pid":${pidOf(p)},"h":0,"n":3,"b":[[4096,3]]}`).join(','));
  put(']}\n');
}
put(`${JSON.stringify({ type: 'end', t: S * 1000 + 1, complete: true })}\n`);
flush();
closeSync(fd);
process.stdout.write(`${JSON.stringify({ path: out, keys: PIDS * TIDS_PER * REASONS_PER, pids: PIDS, tidsPerPid: TIDS_PER, reasons: REASONS_PER, snapshots: S, bytes })}\n`);
