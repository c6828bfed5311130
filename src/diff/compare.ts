/**
 * The comparison of two reports (BASE and NEW): per exit reason, page-fault kind, fault handler
 * and (optionally) VM, each number on both sides with its change. Pure: both sides are Reports,
 * built by the same code whether they came from a recording or a `report -f json` file.
 *
 * Rates are per second over each side's own duration; latency percentiles are the upper bounds
 * of log2 buckets (src/report/histogram.ts), so a change in p99 is a change of bucket.
 */
import type { Hint } from '../report/hints.js';
import type { Report } from '../report/report.js';
import { changeHints } from './change-hints.js';

export const DIFF_VERSION = 1;

export interface Change {
  base: number;
  next: number;
  /** next - base */
  delta: number;
  /** (next - base) / base; null when base is 0 (a change from nothing has no ratio) */
  relative: number | null;
}

/** A latency bound on each side; null where that side has no samples. */
export interface BoundChange {
  base: number | null;
  next: number | null;
}

export interface ReasonDiff {
  isaName: string;
  reason: number;
  name: string;
  count: Change;
  rate: Change;
  share: Change;
  p50Ns: BoundChange;
  p99Ns: BoundChange;
}

export interface HandlerDiff {
  handler: string;
  role: 'tdp' | 'shadow';
  count: Change;
  p50Ns: BoundChange;
  p99Ns: BoundChange;
}

export interface VmDiff {
  /** The VM's name; unnamed VMs ("pid N") paired across runs show both names, "pid A / pid B". */
  name: string;
  totalExits: Change;
  rate: Change;
  exits: { name: string; count: Change }[];
}

/** One side's header: the report's own fields, and the label it is shown under. */
export interface SideSummary extends Pick<Report, 'host' | 'kernel' | 'bpftrace' | 'vendor' | 'tdp' | 'durationSeconds' | 'complete' | 'hints'> {
  label: string;
}

export interface ReportDiff {
  version: number;
  base: SideSummary;
  next: SideSummary;
  total: { count: Change; rate: Change };
  exits: ReasonDiff[];
  pageFaults: { count: Change; mmio: Change; byKind: { kind: string; count: Change }[] };
  handlers: HandlerDiff[];
  lostEvents: Change;
  gaps: Change;
  vms?: VmDiff[];
  hints: Hint[];
}

export function change(base: number, next: number): Change {
  return { base, next, delta: next - base, relative: base === 0 ? null : (next - base) / base };
}

const perSecond = (n: number, seconds: number): number => (seconds > 0 ? n / seconds : 0);

/** Rows of two lists matched by key, in the order: larger of the two counts first, then key. */
function matchBy<T>(base: readonly T[], next: readonly T[], key: (x: T) => string, size: (x: T) => number): { key: string; base?: T; next?: T }[] {
  const rows = new Map<string, { key: string; base?: T; next?: T }>();
  for (const b of base) rows.set(key(b), { key: key(b), base: b });
  for (const n of next) {
    const r = rows.get(key(n));
    if (r) r.next = n;
    else rows.set(key(n), { key: key(n), next: n });
  }
  const big = (r: { base?: T; next?: T }): number => Math.max(r.base ? size(r.base) : 0, r.next ? size(r.next) : 0);
  return [...rows.values()].sort((a, b) => big(b) - big(a) || a.key.localeCompare(b.key));
}

const bound = (l: { p50Ns: number; p99Ns: number } | undefined, which: 'p50Ns' | 'p99Ns'): number | null => (l ? l[which] : null);

function reasonDiffs(base: Report, next: Report): ReasonDiff[] {
  return matchBy(base.exits, next.exits, (e) => `${e.isaName} ${e.reason}`, (e) => e.count).map(({ base: b, next: n }) => {
    const any = (n ?? b) as Report['exits'][number];
    return {
      isaName: any.isaName,
      reason: any.reason,
      name: any.name,
      count: change(b?.count ?? 0, n?.count ?? 0),
      rate: change(perSecond(b?.count ?? 0, base.durationSeconds), perSecond(n?.count ?? 0, next.durationSeconds)),
      share: change(b?.share ?? 0, n?.share ?? 0),
      p50Ns: { base: bound(b?.latency, 'p50Ns'), next: bound(n?.latency, 'p50Ns') },
      p99Ns: { base: bound(b?.latency, 'p99Ns'), next: bound(n?.latency, 'p99Ns') },
    };
  });
}

function handlerDiffs(base: Report, next: Report): HandlerDiff[] {
  return matchBy(base.handlers, next.handlers, (h) => h.handler, (h) => h.count)
    .filter(({ base: b, next: n }) => (b?.count ?? 0) > 0 || (n?.count ?? 0) > 0)
    .map(({ key, base: b, next: n }) => ({
      handler: key,
      role: (n ?? b)?.role ?? 'shadow',
      count: change(b?.count ?? 0, n?.count ?? 0),
      p50Ns: { base: bound(b?.latency, 'p50Ns'), next: bound(n?.latency, 'p50Ns') },
      p99Ns: { base: bound(b?.latency, 'p99Ns'), next: bound(n?.latency, 'p99Ns') },
    }));
}

/** A VM with no name of its own is shown by pid, which differs from run to run. */
const unnamed = (name: string): boolean => /^pid \d+$/.test(name);

/**
 * VMs matched by name. A VM without a name (shown by pid, which differs from run to run, or
 * named only once its command line was read) cannot be matched that way: the VMs left over are
 * paired in order of their exit counts when one of the two is unnamed (a CI job's one VM pairs
 * with itself); two different names stay two VMs.
 */
function vmDiffs(base: Report, next: Report): VmDiff[] {
  type Vm = Report['vms'][number];
  const pairs: { name: string; base?: Vm; next?: Vm }[] = [];
  const nextByName = new Map(next.vms.filter((v) => !unnamed(v.name)).map((v) => [v.name, v]));
  const baseLeft: Vm[] = [];
  for (const b of base.vms) {
    const n = unnamed(b.name) ? undefined : nextByName.get(b.name);
    if (n) {
      pairs.push({ name: b.name, base: b, next: n });
      nextByName.delete(b.name);
    } else baseLeft.push(b);
  }
  const paired = new Set(pairs.map((p) => p.next));
  const nextLeft = next.vms.filter((v) => !paired.has(v)).sort((a, b) => b.totalExits - a.totalExits);
  for (const b of baseLeft.sort((x, y) => y.totalExits - x.totalExits)) {
    const i = nextLeft.findIndex((n) => unnamed(b.name) || unnamed(n.name));
    if (i < 0) {
      pairs.push({ name: b.name, base: b });
      continue;
    }
    const n = nextLeft.splice(i, 1)[0] as Vm;
    pairs.push({ name: b.name === n.name ? b.name : `${b.name} / ${n.name}`, base: b, next: n });
  }
  for (const n of nextLeft) pairs.push({ name: n.name, next: n });
  return pairs
    .map(({ name, base: b, next: n }) => ({
      name,
      totalExits: change(b?.totalExits ?? 0, n?.totalExits ?? 0),
      rate: change(perSecond(b?.totalExits ?? 0, base.durationSeconds), perSecond(n?.totalExits ?? 0, next.durationSeconds)),
      exits: matchBy(b?.exits ?? [], n?.exits ?? [], (e) => e.name, (e) => e.count).map(({ key, base: be, next: ne }) => ({ name: key, count: change(be?.count ?? 0, ne?.count ?? 0) })),
    }))
    .sort((a, b) => Math.max(b.totalExits.base, b.totalExits.next) - Math.max(a.totalExits.base, a.totalExits.next) || a.name.localeCompare(b.name));
}

function side(label: string, r: Report): SideSummary {
  return { label, host: r.host, kernel: r.kernel, bpftrace: r.bpftrace, vendor: r.vendor, tdp: r.tdp, durationSeconds: r.durationSeconds, complete: r.complete, hints: r.hints };
}

export interface CompareOptions {
  baseLabel: string;
  nextLabel: string;
  /** include per-VM rows (`diff --by vm`) */
  byVm?: boolean;
}

export function compareReports(base: Report, next: Report, o: CompareOptions): ReportDiff {
  const diff: ReportDiff = {
    version: DIFF_VERSION,
    base: side(o.baseLabel, base),
    next: side(o.nextLabel, next),
    total: { count: change(base.totalExits, next.totalExits), rate: change(perSecond(base.totalExits, base.durationSeconds), perSecond(next.totalExits, next.durationSeconds)) },
    exits: reasonDiffs(base, next),
    pageFaults: {
      count: change(base.pageFaults.count, next.pageFaults.count),
      mmio: change(base.pageFaults.mmio, next.pageFaults.mmio),
      byKind: matchBy(base.pageFaults.byKind, next.pageFaults.byKind, (k) => k.kind, (k) => k.count).map(({ key, base: b, next: n }) => ({ kind: key, count: change(b?.count ?? 0, n?.count ?? 0) })),
    },
    handlers: handlerDiffs(base, next),
    lostEvents: change(base.lostEvents, next.lostEvents),
    gaps: change(base.gaps.length, next.gaps.length),
    ...(o.byVm ? { vms: vmDiffs(base, next) } : {}),
    hints: [],
  };
  diff.hints = changeHints(base, next);
  return diff;
}
