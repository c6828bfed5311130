#!/usr/bin/env node
// Writes a recording shaped like a host of N VMs for the dashboard benchmark (bench/dashboard.mjs),
// in the real message schema (src/protocol/messages.ts, docs/protocol.md): a hello (the lab's, AMD
// with NPT), a `vm` message per VM process naming its vCPU threads, one snapshot a second and an
// `end`.
//
//   node bench/gen-dashboard.mjs --vms 50 --vcpus 8 --reasons 12 --seconds 300 -o /tmp/dash-50.jsonl
//
// Churn as on a real host: every count changes every second (each busy vCPU's rate of each reason
// takes a random walk, with bursts), a fifth of the VMs are idle (a few HLT and interrupt exits on
// some of their vCPUs, often nothing at all in a second), and with 10 VMs or more one VM restarts
// every 60 s (a `gone`, then a new process under a new pid). A key appears in a snapshot only when
// it counted in that interval, as the collector writes them (deltas; docs/protocol.md). Latency
// histograms (per VM and reason), page faults (codes, 2 MiB regions) and the TDP handler come with
// the shapes of the lab's recordings (test/fixtures/recordings). Deterministic: --seed.
import { closeSync, openSync, writeSync } from 'node:fs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const VMS = Number(arg('--vms', 50));
const VCPUS = Number(arg('--vcpus', 8));
const REASON_COUNT = Number(arg('--reasons', 12));
const SECONDS = Number(arg('--seconds', 300));
const out = arg('-o', `/tmp/exitscope-dash-${VMS}.jsonl`);
let seed = Number(arg('--seed', 1)) >>> 0 || 1;

// mulberry32: the same file for the same arguments
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (x) => Math.max(0, Math.round(x));

// SVM exit codes a busy Linux guest makes, most frequent first (src/model/exit-reasons.ts):
// HLT, NPF, INTR, MSR, IOIO, VINTR, CPUID, PAUSE, NMI, SMI, INIT, XSETBV
const SVM_REASONS = [0x78, 0x400, 0x60, 0x7c, 0x7b, 0x64, 0x72, 0x77, 0x61, 0x62, 0x63, 0x8d];
const REASONS = SVM_REASONS.slice(0, REASON_COUNT);
// a busy vCPU's exits/s of each reason, before its random walk
const BASE_RATE = [900, 600, 300, 250, 120, 60, 20, 40, 3, 1, 1, 2];
const IDLE_REASONS = [0x78, 0x60];

const fd = openSync(out, 'w');
let bytes = 0;
let buf = '';
const put = (s) => {
  buf += s;
  if (buf.length > 1 << 20) flush();
};
const flush = () => {
  bytes += writeSync(fd, buf);
  buf = '';
};

put(
  `${JSON.stringify({
    type: 'hello',
    v: 1,
    startedAt: '2026-11-28T08:00:00.000Z',
    host: 'bench-host',
    kernel: '6.1.0-56-amd64',
    bpftrace: '0.17.0',
    vendor: 'amd',
    tdp: true,
    intervalMs: 1000,
    probes: [
      { probe: 'tracepoint:kvm:kvm_exit', attached: true, detail: 'exit counts per VM, vCPU and reason' },
      { probe: 'tracepoint:kvm:kvm_entry', attached: true, detail: 'exit-handling latency' },
      { probe: 'tracepoint:kvm:kvm_page_fault', attached: true, detail: 'page faults by error code and region' },
      { probe: 'kprobe:kvm_tdp_page_fault', attached: true, detail: 'handler calls and latency' },
    ],
    handlers: ['kvm_tdp_page_fault', 'paging64_page_fault'],
    filters: { pids: [], reasons: [] },
  })}\n`,
);

/** A VM: its pid, threads, whether it idles, and per vCPU x reason a rate that walks. */
let nextPid = 20_000;
function newVm(slot, t) {
  const pid = nextPid;
  nextPid += 100;
  const idle = slot % 5 === 4; // a fifth of the VMs
  const tids = Array.from({ length: VCPUS }, (_, i) => pid + 1 + i);
  const rates = tids.map(() => REASONS.map((_, r) => (BASE_RATE[r] ?? 1) * (0.3 + random() * 1.4)));
  const vm = { slot, pid, idle, tids, rates, name: `vm-${slot}${pid > 20_000 + 100 * VMS ? `-r${pid}` : ''}` };
  put(`${JSON.stringify({ type: 'vm', event: 'appeared', t, pid, name: vm.name, source: 'qemu', vcpus: Object.fromEntries(tids.map((tid, i) => [String(tid), i])) })}\n`);
  return vm;
}
const vms = Array.from({ length: VMS }, (_, i) => newVm(i, 5));

/** log2 buckets of `n` exit-handling times around `centre` ns (the lab's shapes: a peak and a long tail). */
function buckets(n, centre) {
  const b = [];
  let left = n;
  let low = centre;
  const peak = int(n * (0.6 + random() * 0.2));
  b.push([low, peak]);
  left -= peak;
  for (low = centre * 2; left > 0 && low <= 16_777_216; low *= 2) {
    const k = low >= 8_388_608 ? left : int(left * (0.5 + random() * 0.3)) || left;
    b.push([low, k]);
    left -= k;
  }
  return b.filter(([, k]) => k > 0);
}

for (let s = 0; s < SECONDS; s++) {
  const t = 10_000 + s * 1000;
  // one VM restarts every 60 s on a host of 10 or more
  if (VMS >= 10 && s > 0 && s % 60 === 0) {
    const slot = (s / 60) % VMS;
    const old = vms[slot];
    put(`${JSON.stringify({ type: 'vm', event: 'gone', t, pid: old.pid, name: old.name, source: 'qemu', vcpus: {} })}\n`);
    vms[slot] = newVm(slot, t);
  }
  const exits = [];
  const exitNs = [];
  const faults = [];
  const regions = [];
  const handlers = [];
  const ms = 1000 + int((random() - 0.5) * 6);
  for (const vm of vms) {
    const perReason = REASONS.map(() => 0);
    vm.tids.forEach((tid, v) => {
      if (vm.idle) {
        // an idle guest: a timer tick now and then on some vCPUs
        if (random() < 0.5) return;
        for (const reason of IDLE_REASONS) {
          const n = int(random() * 30);
          if (n > 0) {
            exits.push({ pid: vm.pid, tid, isa: 2, reason, n });
            perReason[REASONS.indexOf(reason)] += n;
          }
        }
        return;
      }
      const burst = random() < 0.03 ? 5 + random() * 20 : 1;
      REASONS.forEach((reason, r) => {
        const rate = vm.rates[v][r];
        vm.rates[v][r] = Math.min((BASE_RATE[r] ?? 1) * 3, Math.max(0.2, rate * (0.85 + random() * 0.3)));
        const n = int(rate * burst * (0.9 + random() * 0.2));
        if (n > 0) {
          exits.push({ pid: vm.pid, tid, isa: 2, reason, n });
          perReason[r] += n;
        }
      });
    });
    REASONS.forEach((reason, r) => {
      if (perReason[r] > 0) exitNs.push({ pid: vm.pid, isa: 2, reason, b: buckets(perReason[r], reason === 0x78 ? 32_768 : reason === 0x7b ? 524_288 : 16_384) });
    });
    const npf = perReason[REASONS.indexOf(0x400)] ?? 0;
    if (npf > 0) {
      const write = int(npf * 0.7);
      if (write) faults.push({ pid: vm.pid, code: 4294967302, n: write });
      if (npf - write) faults.push({ pid: vm.pid, code: 4294967300, n: npf - write });
      let left = npf;
      for (let k = 0; k < 4 && left > 0; k++) {
        const n = k === 3 ? left : int(left * (0.3 + random() * 0.4));
        if (n) regions.push({ pid: vm.pid, region: (vm.slot * 7 + k * 3 + (s % 5)) % 2048, n });
        left -= n;
      }
      handlers.push({ pid: vm.pid, h: 0, n: npf, b: buckets(npf, 8192) });
    }
  }
  put(`${JSON.stringify({ type: 'snapshot', seq: s, t, ms, ...(s === SECONDS - 1 ? { final: true } : {}), exits, exitNs, faults, regions, handlers })}\n`);
}
put(`${JSON.stringify({ type: 'end', t: 10_000 + SECONDS * 1000, complete: true })}\n`);
flush();
closeSync(fd);
process.stdout.write(`${JSON.stringify({ path: out, vms: VMS, vcpus: VCPUS, reasons: REASONS.length, seconds: SECONDS, bytes })}\n`);
