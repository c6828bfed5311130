/**
 * Hints about what changed between two runs: the patterns an engineer looks for when a job got
 * slower on one host (the seed article's: nested paging off, so NPF exits became #PF intercepts
 * handled by the shadow MMU). Rules are data; each is tested in test/unit/change-hints.test.ts.
 */
import type { Hint } from '../report/hints.js';
import { formatNs } from '../report/histogram.js';
import type { Report } from '../report/report.js';

interface ChangeRule {
  id: string;
  severity: Hint['severity'];
  applies: (base: Report, next: Report) => boolean;
  message: (base: Report, next: Report) => string;
}

const count = (r: Report, ...names: string[]): number => r.exits.filter((e) => names.includes(e.name)).reduce((a, e) => a + e.count, 0);
const share = (r: Report, ...names: string[]): number => (r.totalExits > 0 ? count(r, ...names) / r.totalExits : 0);
const rate = (r: Report, n: number): number => (r.durationSeconds > 0 ? n / r.durationSeconds : 0);
const shadowCalls = (r: Report): number => r.handlers.filter((h) => h.role === 'shadow').reduce((a, h) => a + h.count, 0);
const shadowNames = (r: Report): string => r.handlers.filter((h) => h.role === 'shadow' && h.count > 0).map((h) => h.handler).join(', ');
/** Whole percents, but never rounded up to a misleading 100% (or down to 0%). */
const pct = (x: number): string => {
  const v = x * 100;
  return (v > 99 && v < 100) || (v > 0 && v < 1) ? `${v.toFixed(1)}%` : `${v.toFixed(0)}%`;
};
const perS = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
/** The exits that nested paging turns guest page faults into, and the exits of shadow paging. */
const NESTED = ['NPF', 'EPT_VIOLATION'];
const INTERCEPTED_PF = ['EXCP_PF', 'EXCEPTION_NMI'];
/** Below this many exits a change is noise, not a pattern. */
const MIN_EXITS = 100;

/**
 * How a run's guest memory was translated: 'nested' (NPT/EPT), 'shadow' (KVM's shadow MMU), or
 * unknown. The host's own setting (hello.tdp) first; then what the handlers saw.
 */
export function pagingMode(r: Report): 'nested' | 'shadow' | 'unknown' {
  if (r.tdp === true) return 'nested';
  if (r.tdp === false) return 'shadow';
  if (r.tdpFaults.count > 0) return 'nested';
  if (shadowCalls(r) > 0 || share(r, ...INTERCEPTED_PF) >= 0.2) return 'shadow';
  return 'unknown';
}

export const CHANGE_RULES: readonly ChangeRule[] = [
  {
    id: 'nested-paging-off',
    severity: 'warning',
    applies: (b, n) => pagingMode(b) === 'nested' && pagingMode(n) === 'shadow',
    message: (b, n) =>
      `Nested paging is on in BASE and off in NEW: nested page faults (NPF/EPT) went from ${count(b, ...NESTED)} to ${count(n, ...NESTED)} and intercepted guest #PF (EXCP_PF) from ${count(b, ...INTERCEPTED_PF)} to ${count(n, ...INTERCEPTED_PF)}` +
      `${shadowCalls(n) > 0 ? `, handled by the shadow MMU (${shadowNames(n)}: ${shadowCalls(n)} calls)` : ''}. KVM shadows the guest page tables on NEW's host: check /sys/module/kvm_amd/parameters/npt (kvm_intel: ept) there and the VM's CPU model.`,
  },
  {
    id: 'nested-paging-on',
    severity: 'info',
    applies: (b, n) => pagingMode(b) === 'shadow' && pagingMode(n) === 'nested',
    message: (b, n) => `Nested paging is off in BASE and on in NEW: intercepted guest #PF (EXCP_PF) went from ${count(b, ...INTERCEPTED_PF)} to ${count(n, ...INTERCEPTED_PF)}, nested page faults (NPF/EPT) from ${count(b, ...NESTED)} to ${count(n, ...NESTED)}. Compare like with like, or expect these rows to differ.`,
  },
  {
    id: 'mmio-storm',
    severity: 'warning',
    // MMIO became a large part of NEW's exits and at least doubled its rate
    applies: (b, n) => n.pageFaults.mmio >= MIN_EXITS && n.pageFaults.mmio >= 0.2 * n.totalExits && rate(n, n.pageFaults.mmio) >= 2 * rate(b, b.pageFaults.mmio),
    message: (b, n) => `An MMIO storm appeared: ${n.pageFaults.mmio} MMIO faults in NEW (${perS(rate(n, n.pageFaults.mmio))}/s, ${pct(n.pageFaults.mmio / Math.max(1, n.totalExits))} of exits) against ${b.pageFaults.mmio} in BASE (${perS(rate(b, b.pageFaults.mmio))}/s). A guest polls an emulated device; a virtio device or ioeventfd avoids these exits.`,
  },
  {
    id: 'hlt-churn',
    severity: 'info',
    applies: (b, n) => count(n, 'HLT') >= MIN_EXITS && share(n, 'HLT') >= 0.3 && rate(n, count(n, 'HLT')) >= 1.5 * rate(b, count(b, 'HLT')),
    message: (b, n) => `HLT churn: HLT exits went from ${perS(rate(b, count(b, 'HLT')))}/s to ${perS(rate(n, count(n, 'HLT')))}/s (${pct(share(n, 'HLT'))} of NEW's exits): vCPUs go idle and wake more often. Look at the guest's timers and halt_poll_ns.`,
  },
  {
    id: 'exit-rate',
    severity: 'info',
    applies: (b, n) => Math.max(b.totalExits, n.totalExits) >= MIN_EXITS && rate(b, b.totalExits) > 0 && Math.abs(rate(n, n.totalExits) / rate(b, b.totalExits) - 1) >= 0.5,
    message: (b, n) => `Exits per second went from ${perS(rate(b, b.totalExits))} to ${perS(rate(n, n.totalExits))} (${rate(n, n.totalExits) >= rate(b, b.totalExits) ? '+' : ''}${pct(rate(n, n.totalExits) / rate(b, b.totalExits) - 1)}).`,
  },
  {
    id: 'new-reason',
    severity: 'info',
    applies: (b, n) => newReasons(b, n).length > 0,
    message: (b, n) => `Exit reasons in NEW that BASE did not have: ${newReasons(b, n).map((e) => `${e.name} (${e.count}, ${pct(e.share)})`).join(', ')}.`,
  },
  {
    id: 'latency-up',
    severity: 'info',
    applies: (b, n) => slower(b, n).length > 0,
    message: (b, n) => `Exit handling got slower: ${slower(b, n).map((s) => `${s.name} p99 <= ${formatNs(s.base)} -> <= ${formatNs(s.next)}`).join(', ')} (log2 buckets: two buckets up or more, at least ${MIN_EXITS} samples on each side).`,
  },
  {
    id: 'lost-events',
    severity: 'warning',
    applies: (b, n) => n.lostEvents > b.lostEvents,
    message: (b, n) => `NEW lost ${n.lostEvents} events (BASE ${b.lostEvents}): its counts are incomplete, so part of any drop is missing data.`,
  },
  {
    id: 'gaps',
    severity: 'warning',
    applies: (b, n) => n.gaps.length > b.gaps.length,
    message: (b, n) => `Counting stopped ${n.gaps.length} time(s) in NEW (BASE ${b.gaps.length}): exits in those gaps are missing from NEW.`,
  },
  {
    id: 'different-kernel',
    severity: 'info',
    applies: (b, n) => b.kernel !== n.kernel,
    message: (b, n) => `The hosts run different kernels (BASE ${b.kernel}, NEW ${n.kernel}): KVM's exit handling can change with the kernel alone.`,
  },
];

/** Reasons with no exit in BASE that are at least 5% of NEW's exits (and not noise). */
function newReasons(b: Report, n: Report): Report['exits'] {
  const had = new Set(b.exits.filter((e) => e.count > 0).map((e) => `${e.isa},${e.reason}`));
  return n.exits.filter((e) => !had.has(`${e.isa},${e.reason}`) && e.share >= 0.05 && e.count >= MIN_EXITS);
}

/** Reasons whose p99 bound rose by two log2 buckets or more (x4), with enough samples on both sides. */
function slower(b: Report, n: Report): { name: string; base: number; next: number }[] {
  const before = new Map(b.exits.map((e) => [`${e.isa},${e.reason}`, e.latency]));
  return n.exits.flatMap((e) => {
    const was = before.get(`${e.isa},${e.reason}`);
    const now = e.latency;
    return was && now && was.count >= MIN_EXITS && now.count >= MIN_EXITS && now.p99Ns >= 4 * was.p99Ns ? [{ name: e.name, base: was.p99Ns, next: now.p99Ns }] : [];
  });
}

export function changeHints(base: Report, next: Report): Hint[] {
  return CHANGE_RULES.filter((r) => r.applies(base, next)).map((r) => ({ id: r.id, severity: r.severity, message: r.message(base, next) }));
}
