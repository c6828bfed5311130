/**
 * The dashboard's view model: everything the panels show, computed from the
 * model (Aggregate) and the UI's own state. Pure: no I/O, no clock; the same
 * inputs always give the same view (which is what the golden-frame test relies on).
 * The numbers come from the same report code as `exitscope report`, applied to
 * the rolling window and the selected VM.
 */
import { type Aggregate, type ReadonlyTotals, totalsOfPid } from '../src/model/aggregate.js';
import { HANDLERS } from '../src/probes/handlers.js';
import type { Hint } from '../src/report/hints.js';
import { type LatencySummary, summarize } from '../src/report/histogram.js';
import { buildReport } from '../src/report/report.js';
import { safeStrings } from '../src/views/safe-text.js';
import { reasonSeries } from './reason-rates.js';

export const WINDOWS = [1, 10, 60] as const;
export type WindowSeconds = (typeof WINDOWS)[number];
export const SORT_KEYS = ['count', 'name', 'p50', 'p99', 'max'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface UiState {
  windowSeconds: WindowSeconds;
  sort: SortKey;
  /** Descending (largest first) when true. */
  sortDesc: boolean;
  /** Case-insensitive text that exit-reason names (or codes) must contain. */
  filter: string;
  /** The selected VM's pid; undefined for all VMs. */
  vm: number | undefined;
}

export const INITIAL_UI: UiState = { windowSeconds: 10, sort: 'count', sortDesc: true, filter: '', vm: undefined };

export interface SelfStats {
  cpuPercent: number;
  rssMiB: number;
}

/** The header's figures from a measurement (src/collector/self-usage.ts, or a server's `collector` message). */
export const selfStatsOf = (u: { cpu: number; rssBytes: number }): SelfStats => ({ cpuPercent: u.cpu * 100, rssMiB: u.rssBytes / 2 ** 20 });

export interface ReasonView {
  key: string;
  name: string;
  isaName: string;
  reason: number;
  known: boolean;
  count: number;
  rate: number;
  share: number;
  /** exits/s per interval over the history, oldest first. */
  spark: number[];
  latency?: LatencySummary;
}

export interface DashboardView {
  state: 'waiting' | 'no-vm' | 'running';
  header: {
    host: string;
    kernel: string;
    bpftrace: string;
    attached: string[];
    notAttached: { probe: string; detail: string }[];
    uptimeMs: number;
    exitsPerSecond: number;
    lost: number;
    gaps: number;
    self: SelfStats | undefined;
    paused: boolean;
    windowSeconds: WindowSeconds;
    /** The window actually covered (less than asked at the start). */
    windowCoveredMs: number;
    vmLabel: string;
    /** The cgroup counted (run --scope, --cgroup: hello.filters.cgroup); undefined when all are. */
    scope: string | undefined;
    source: 'live' | 'replay';
    ended: boolean;
  };
  reasons: { rows: ReasonView[]; total: number; hidden: number; sort: SortKey; sortDesc: boolean; filter: string };
  faults: { count: number; rate: number; mmio: number; byKind: { kind: string; count: number }[]; topRegions: { vm: string; gpa: string; count: number }[] };
  tdp: {
    handler: string | null;
    count: number;
    rate: number;
    latency?: LatencySummary;
    /** log2 buckets of the handler's time: [lower bound ns, count]. */
    buckets: [number, number][];
    shadow: { handler: string; count: number }[];
    /** NPT/EPT off, as the kernel says (hello.tdp), or the shadow pattern in the data. */
    shadowPaging: boolean;
  };
  vms: { pid: number; name: string; rate: number; selected: boolean; gone: boolean }[];
  vcpus: { key: string; label: string; rate: number }[];
  hints: Hint[];
}

const latencyKey = (r: ReasonView, k: 'p50' | 'p99' | 'max'): number => (r.latency ? r.latency[k === 'p50' ? 'p50Ns' : k === 'p99' ? 'p99Ns' : 'maxNs'] : -1);

function sortRows(rows: ReasonView[], key: SortKey, desc: boolean): ReasonView[] {
  const dir = desc ? -1 : 1;
  const cmp = (a: ReasonView, b: ReasonView): number => {
    if (key === 'name') return a.name.localeCompare(b.name);
    if (key === 'count') return a.count - b.count;
    return latencyKey(a, key) - latencyKey(b, key);
  };
  // ties broken by count, then code, so the order never flickers between frames
  return [...rows].sort((a, b) => dir * cmp(a, b) || b.count - a.count || a.reason - b.reason);
}

/**
 * The view, with every string in it neutralised (src/views/safe-text.ts): VM names, the hello's
 * host, kernel and probe details, handler names and hint text come from the stream (a recording,
 * a remote server) and must not reach the terminal as escape sequences. Done here, on the whole
 * view, so that a field added later is covered without a component having to remember.
 */
export function buildView(agg: Aggregate, ui: UiState, o: { paused: boolean; self: SelfStats | undefined; source: 'live' | 'replay' }): DashboardView {
  return safeStrings(viewOf(agg, ui, o));
}

/** Whether a VM process has exit counts in these totals. */
function countsIn(t: ReadonlyTotals, pid: number): boolean {
  let found = false;
  t.exits.forEachExit((_n, p) => void (found ||= p === pid));
  return found;
}

function viewOf(agg: Aggregate, ui: UiState, o: { paused: boolean; self: SelfStats | undefined; source: 'live' | 'replay' }): DashboardView {
  const h = agg.hello;
  const windowAll = agg.window(ui.windowSeconds * 1000);
  const vmPid = ui.vm !== undefined && (agg.vms.has(ui.vm) || countsIn(windowAll, ui.vm)) ? ui.vm : undefined;
  const win = vmPid === undefined ? windowAll : totalsOfPid(windowAll, vmPid);
  const report = buildReport(agg, win);
  const seconds = win.ms / 1000;
  const rate = (n: number): number => (seconds > 0 ? n / seconds : 0);

  // per-interval rates of each reason, for the sparklines: each snapshot's summed once (reason-rates.ts)
  const series = reasonSeries(agg.history(), vmPid);

  const filter = ui.filter.trim().toLowerCase();
  const all: ReasonView[] = report.exits.map((r) => ({
    key: `${r.isa},${r.reason}`,
    name: r.name,
    isaName: r.isaName,
    reason: r.reason,
    known: !/^unknown/i.test(r.name),
    count: r.count,
    rate: r.rate,
    share: r.share,
    spark: series.get(`${r.isa},${r.reason}`) ?? [],
    ...(r.latency ? { latency: r.latency } : {}),
  }));
  const shown = filter ? all.filter((r) => r.name.toLowerCase().includes(filter) || `0x${r.reason.toString(16)}` === filter || String(r.reason) === filter) : all;

  // the TDP handler's histogram in the window
  const tdpIndex = (h?.handlers ?? []).findIndex((n) => (HANDLERS.tdp as readonly string[]).includes(n));
  const buckets = new Map<number, number>();
  for (const [k, b] of win.handlerNs) {
    if (Number(k.split(',')[1]) !== tdpIndex) continue;
    for (const [low, n] of b) buckets.set(low, (buckets.get(low) ?? 0) + n);
  }
  const shadow = report.handlers.filter((x) => x.role === 'shadow' && x.count > 0).map((x) => ({ handler: x.handler, count: x.count }));

  // VMs: every one the stream named, plus pids seen counting without a name yet
  // (as numbers: no key string made per entry)
  const vmRates = new Map<number, number>();
  windowAll.exits.forEachExit((n, pid) => void vmRates.set(pid, (vmRates.get(pid) ?? 0) + n));
  for (const pid of agg.vms.keys()) if (!vmRates.has(pid)) vmRates.set(pid, 0);
  const allSeconds = windowAll.ms / 1000;
  const vms = [...vmRates]
    .map(([pid, n]) => ({ pid, name: agg.vmName(pid), rate: allSeconds > 0 ? n / allSeconds : 0, selected: pid === vmPid, gone: agg.vms.get(pid)?.gone ?? false }))
    .filter((v) => !v.gone || v.rate > 0 || v.selected)
    .sort((a, b) => b.rate - a.rate || a.pid - b.pid);
  const vcpus = report.vms
    .flatMap((v) => v.vcpus.map((c) => ({ key: `${v.pid},${c.tid}`, label: `${c.vcpu !== null ? `vCPU ${c.vcpu}` : `tid ${c.tid}`}${vmPid === undefined ? ` ${v.name} (${v.pid})` : ''}`, rate: rate(c.count) })))
    .sort((a, b) => b.rate - a.rate)
    .slice(0, 16);

  const running = vms.some((v) => !v.gone) || report.totalExits > 0;
  return {
    state: agg.snapshots === 0 ? 'waiting' : running ? 'running' : 'no-vm',
    header: {
      host: h?.host ?? '?',
      kernel: h?.kernel ?? '?',
      bpftrace: h?.bpftrace ?? '?',
      attached: (h?.probes ?? []).filter((p) => p.attached).map((p) => p.probe),
      notAttached: (h?.probes ?? []).filter((p) => !p.attached).map((p) => ({ probe: p.probe, detail: p.detail })),
      uptimeMs: agg.lastT,
      exitsPerSecond: rate(report.totalExits),
      lost: agg.lost,
      gaps: agg.gaps.length,
      self: o.self,
      paused: o.paused,
      windowSeconds: ui.windowSeconds,
      windowCoveredMs: win.ms,
      vmLabel: vmPid === undefined ? 'all VMs' : `${agg.vmName(vmPid)} (pid ${vmPid})`,
      scope: h?.filters.cgroup?.path,
      source: o.source,
      ended: agg.ended !== undefined,
    },
    reasons: { rows: sortRows(shown, ui.sort, ui.sortDesc), total: report.totalExits, hidden: all.length - shown.length, sort: ui.sort, sortDesc: ui.sortDesc, filter: ui.filter },
    faults: {
      count: report.pageFaults.count,
      rate: rate(report.pageFaults.count),
      mmio: report.pageFaults.mmio,
      byKind: report.pageFaults.byKind,
      topRegions: report.pageFaults.topRegions.slice(0, 3).map((r) => ({ vm: r.vm, gpa: r.gpa, count: r.count })),
    },
    tdp: {
      handler: report.tdpFaults.handler,
      count: report.tdpFaults.count,
      rate: rate(report.tdpFaults.count),
      ...(summarize(buckets) ? { latency: summarize(buckets) as LatencySummary } : {}),
      buckets: [...buckets].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]),
      shadow,
      shadowPaging: h?.tdp === false || report.hints.some((x) => x.id === 'shadow-paging'),
    },
    vms,
    vcpus,
    hints: report.hints,
  };
}

/** The next VM in the `v` cycle: all VMs, then each by pid (a stable order: rates change), then all again. */
export function nextVm(view: DashboardView, current: number | undefined): number | undefined {
  const pids = view.vms.map((v) => v.pid).sort((a, b) => a - b);
  if (pids.length === 0) return undefined;
  if (current === undefined) return pids[0];
  const i = pids.indexOf(current);
  return i < 0 || i === pids.length - 1 ? undefined : pids[i + 1];
}
