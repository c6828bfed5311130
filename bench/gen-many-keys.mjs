#!/usr/bin/env node
// Writes a recording with many distinct keys, in the real message schema (src/protocol/messages.ts):
// a hello, one `vm` message per VM process (its vCPU threads named), S snapshots that each carry
// every one of the N exit keys (pid x tid x reason), a latency histogram per (pid, reason), a few
// page faults per VM, and an `end`. What a big host with many VMs recorded for a while looks like.
//
//   node bench/gen-many-keys.mjs --keys 1000000 --snapshots 1 -o /tmp/many.jsonl
//
// A snapshot carries at most 262,144 exit keys (--per-snapshot): bpftrace's maps hold no more, so
// no real snapshot is larger; more keys than that are spread over more snapshots (keys of VMs that
// came and went), each snapshot taking the next keys in turn. The snapshot count is then at least
// ceil(N / 262,144).
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
const PER_SNAPSHOT = Number(arg('--per-snapshot', 262_144));

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
const KEYS = PIDS * TIDS_PER * REASONS_PER;
const PER = Math.min(KEYS, PER_SNAPSHOT);
const SNAPSHOTS = Math.max(S, Math.ceil(KEYS / PER));
for (let s = 0; s < SNAPSHOTS; s++) {
  put(`{"type":"snapshot","seq":${s},"t":${(s + 1) * 1000},"ms":1000${s === SNAPSHOTS - 1 ? ',"final":true' : ''},"exits":[`);
  // keys in turn: key i is (pid, tid, reason) by position; this snapshot takes PER of them
  const pidsHere = new Set();
  for (let j = 0; j < PER; j++) {
    const i = (s * PER + j) % KEYS;
    const r = REASONS[i % REASONS_PER];
    const t = Math.floor(i / REASONS_PER) % TIDS_PER;
    const p = Math.floor(i / (REASONS_PER * TIDS_PER));
    pidsHere.add(p);
    put(`${j ? ',' : ''}{"pid":${pidOf(p)},"tid":${tidOf(p, t)},"isa":2,"reason":${r},"n":${1 + ((p + t + r + s) % 7)}}`);
  }
  const pids = [...pidsHere];
  put('],"exitNs":[');
  let first = true;
  for (const p of pids)
    for (const r of REASONS) {
      put(`${first ? '' : ','}{"pid":${pidOf(p)},"isa":2,"reason":${r},"b":[[4096,${1 + (r % 5)}],[8192,${1 + (p % 3)}],[65536,1]]}`);
      first = false;
    }
  put('],"faults":[');
  put(pids.map((p) => `{"pid":${pidOf(p)},"code":4294967302,"n":${1 + (p % 4)}}`).join(','));
  put('],"regions":[');
  put(pids.map((p) => `{"pid":${pidOf(p)},"region":${p % 512},"n":2}`).join(','));
  put('],"handlers":[');
  put(pids.map((p) => `{"pid":${pidOf(p)},"h":0,"n":3,"b":[[4096,3]]}`).join(','));
  put(']}\n');
}
put(`${JSON.stringify({ type: 'end', t: SNAPSHOTS * 1000 + 1, complete: true })}\n`);
flush();
closeSync(fd);
process.stdout.write(`${JSON.stringify({ path: out, keys: KEYS, pids: PIDS, tidsPerPid: TIDS_PER, reasons: REASONS_PER, snapshots: SNAPSHOTS, keysPerSnapshot: PER, bytes })}\n`);
