/**
 * The report: what a run or a recording adds up to, per exit reason, page-fault
 * kind, handler, VM and vCPU, with diagnosis hints. Built from the model's
 * totals; formatted by format.ts. Pure.
 */
import type { Aggregate, ReadonlyTotals } from '../model/aggregate.js';
import { decodeExitReason, hex, ISA_SVM, ISA_VMX, isaName } from '../model/exit-reasons.js';
import { decodeFault, faultKind } from '../model/page-fault-bits.js';
import { HANDLERS } from '../probes/handlers.js';
import { type Hint, hintsFor } from './hints.js';
import { type LatencySummary, mergeBuckets, summarize } from './histogram.js';

export const REPORT_VERSION = 1;

export interface ReasonRow {
  isa: number;
  isaName: string;
  reason: number;
  name: string;
  count: number;
  /** per second over the report's duration */
  rate: number;
  /** of all exits, 0..1 */
  share: number;
  latency?: LatencySummary;
}

export interface Report {
  version: number;
  host: string;
  kernel: string;
  bpftrace: string;
  vendor: string;
  tdp: boolean | null;
  durationSeconds: number;
  complete: boolean;
  totalExits: number;
  exits: ReasonRow[];
  pageFaults: { count: number; mmio: number; byKind: { kind: string; count: number }[]; byCode: { code: string; flags: string[]; count: number }[]; topRegions: { pid: number; vm: string; gpa: string; count: number }[] };
  tdpFaults: { handler: string | null; count: number; latency?: LatencySummary };
  handlers: { handler: string; role: 'tdp' | 'shadow'; count: number; latency?: LatencySummary }[];
  lostEvents: number;
  gaps: { t: number; reason: string; resumed: boolean }[];
  errors: { code: string; message: string }[];
  vms: { pid: number; name: string; gone: boolean; totalExits: number; exits: { name: string; count: number }[]; vcpus: { tid: number; vcpu: number | null; count: number }[] }[];
  hints: Hint[];
  /** Only threads in this cgroup v2 were counted (run --scope, --cgroup; hello.filters.cgroup); absent: all. */
  scope?: { cgroup: string; ids: string[]; created: boolean };
}

const keyNums = (k: string): number[] => k.split(',').map(Number);

/** Counts and latency buckets by exit reason (isa,reason as decoded), for all VMs or one. */
interface ReasonSums {
  counts: Map<string, number>;
  latency: Map<string, Map<number, number>>;
}
const emptyReasonSums = (): ReasonSums => ({ counts: new Map(), latency: new Map() });

/**
 * The exit keys grouped by VM process in ONE pass: the report is linear in keys, however many VMs.
 * (A VM's rows show names and counts only, so no latency is summed per VM.)
 */
interface PidSums extends ReasonSums {
  perTid: Map<number, number>;
}

function reasonKey(isa: number, reason: number): string {
  return `${isa},${decodeExitReason(isa, reason).reason}`;
}

function reasonRows(sums: ReasonSums, seconds: number): ReasonRow[] {
  let total = 0;
  for (const n of sums.counts.values()) total += n;
  return [...sums.counts]
    .map(([k, count]) => {
      const [isa = 0, reason = 0] = keyNums(k);
      const d = decodeExitReason(isa, reason);
      const latency = summarize(sums.latency.get(k));
      return { isa, isaName: isaName(isa), reason: d.reason, name: d.name, count, rate: seconds > 0 ? count / seconds : 0, share: total > 0 ? count / total : 0, ...(latency ? { latency } : {}) };
    })
    .sort((a, b) => b.count - a.count || a.reason - b.reason);
}

/** Sums for all VMs and for each VM (in the order VMs first appear among the keys). */
function sumExits(t: ReadonlyTotals): { all: ReasonSums; byPid: Map<number, PidSums> } {
  const all = emptyReasonSums();
  const byPid = new Map<number, PidSums>();
  const pidSums = (pid: number): PidSums => {
    let p = byPid.get(pid);
    if (!p) byPid.set(pid, (p = { ...emptyReasonSums(), perTid: new Map() }));
    return p;
  };
  const count = (m: Map<string, number>, k: string, n: number): void => void m.set(k, (m.get(k) ?? 0) + n);
  // a million keys share a few hundred reasons: each is decoded once (by isa, then reason)
  const reasonKeys = new Map<number, Map<number, string>>();
  // the exit counts as numbers: no key string read or made per entry
  t.exits.forEachExit((n, pid, tid, isa, reason) => {
    let ofIsa = reasonKeys.get(isa);
    if (!ofIsa) reasonKeys.set(isa, (ofIsa = new Map()));
    let key = ofIsa.get(reason);
    if (key === undefined) ofIsa.set(reason, (key = reasonKey(isa, reason)));
    const p = pidSums(pid);
    count(all.counts, key, n);
    count(p.counts, key, n);
    p.perTid.set(tid, (p.perTid.get(tid) ?? 0) + n);
  });
  const bucketsOf = (m: Map<string, Map<number, number>>, k: string): Map<number, number> => {
    let b = m.get(k);
    if (!b) m.set(k, (b = new Map()));
    return b;
  };
  for (const [k, b] of t.exitNs) {
    const [, isa = 0, reason = 0] = keyNums(k);
    const key = reasonKey(isa, reason);
    mergeBuckets(bucketsOf(all.latency, key), b);
  }
  return { all, byPid };
}

export function buildReport(agg: Aggregate, totals: ReadonlyTotals = agg.total): Report {
  const h = agg.hello;
  const seconds = totals.ms / 1000;
  const sums = sumExits(totals);
  const exits = reasonRows(sums.all, seconds);
  const totalExits = exits.reduce((a, r) => a + r.count, 0);
  const isa = h?.vendor === 'intel' ? ISA_VMX : ISA_SVM;

  const byKind = new Map<string, number>();
  const byCode = new Map<number, number>();
  let faultCount = 0;
  let mmio = 0;
  for (const [k, n] of totals.faults) {
    const [, code = 0] = keyNums(k);
    const d = decodeFault(isa, BigInt(code), h?.tdp);
    faultCount += n;
    if (d.mmio) mmio += n;
    const kind = faultKind(d);
    byKind.set(kind, (byKind.get(kind) ?? 0) + n);
    byCode.set(code, (byCode.get(code) ?? 0) + n);
  }
  const topRegions = [...totals.regions]
    .map(([k, count]) => {
      const [pid = 0, region = 0] = keyNums(k);
      return { pid, vm: agg.vmName(pid), gpa: `0x${(BigInt(region) << 21n).toString(16)}`, count };
    })
    .sort((a, b) => b.count - a.count)
    .slice(0, 10);

  const names = h?.handlers ?? [];
  const perHandler = new Map<number, { count: number; b: Map<number, number> }>();
  for (const [k, n] of totals.handlerCalls) {
    const [, idx = 0] = keyNums(k);
    const e = perHandler.get(idx) ?? { count: 0, b: new Map() };
    e.count += n;
    const b = totals.handlerNs.get(k);
    if (b) mergeBuckets(e.b, b);
    perHandler.set(idx, e);
  }
  const handlers = names.map((name, i) => {
    const e = perHandler.get(i);
    const latency = summarize(e?.b);
    return { handler: name, role: (HANDLERS.tdp as readonly string[]).includes(name) ? ('tdp' as const) : ('shadow' as const), count: e?.count ?? 0, ...(latency ? { latency } : {}) };
  });
  const tdp = handlers.find((x) => x.role === 'tdp');

  const vms = [...sums.byPid].map(([pid, p]) => {
    const rows = reasonRows(p, seconds);
    return {
      pid,
      name: agg.vmName(pid),
      gone: agg.vms.get(pid)?.gone ?? false,
      totalExits: rows.reduce((a, r) => a + r.count, 0),
      exits: rows.map((r) => ({ name: r.name, count: r.count })),
      vcpus: [...p.perTid].map(([tid, count]) => ({ tid, vcpu: agg.vcpuOf(pid, tid) ?? null, count })).sort((a, b) => (a.vcpu ?? 1e9) - (b.vcpu ?? 1e9) || a.tid - b.tid),
    };
  });

  const report: Report = {
    version: REPORT_VERSION,
    host: h?.host ?? 'unknown',
    kernel: h?.kernel ?? 'unknown',
    bpftrace: h?.bpftrace ?? 'unknown',
    vendor: h?.vendor ?? 'unknown',
    tdp: h?.tdp ?? null,
    durationSeconds: seconds,
    complete: agg.ended?.complete ?? false,
    ...(h?.filters.cgroup ? { scope: { cgroup: h.filters.cgroup.path, ids: h.filters.cgroup.ids, created: h.filters.cgroup.created } } : {}),
    totalExits,
    exits,
    pageFaults: {
      count: faultCount,
      mmio,
      byKind: [...byKind].map(([kind, count]) => ({ kind, count })).sort((a, b) => b.count - a.count),
      byCode: [...byCode].map(([code, count]) => ({ code: `0x${code.toString(16)}`, flags: decodeFault(isa, BigInt(code), h?.tdp).flags, count })).sort((a, b) => b.count - a.count),
      topRegions,
    },
    tdpFaults: { handler: tdp?.handler ?? null, count: tdp?.count ?? 0, ...(tdp?.latency ? { latency: tdp.latency } : {}) },
    handlers,
    lostEvents: agg.lost,
    gaps: agg.gaps,
    errors: agg.errors.map(({ code, message }) => ({ code, message })),
    vms: vms.sort((a, b) => b.totalExits - a.totalExits),
    hints: [],
  };
  report.hints = hintsFor(report);
  return report;
}
