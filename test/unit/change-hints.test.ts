/**
 * Every rule of src/diff/change-hints.ts: when it speaks and when it stays quiet. Reports are the
 * real npt on/off recordings, some with one field changed to make the pattern (said per case).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHANGE_RULES, changeHints, pagingMode } from '../../src/diff/change-hints.js';
import { loadSide } from '../../src/diff/load-side.js';
import type { Report } from '../../src/report/report.js';

const FIX = join(import.meta.dirname, '../fixtures/recordings');
const on = loadSide(join(FIX, 'run-npf-1031-npt-on.jsonl')).report;
const off = loadSide(join(FIX, 'run-npf-1031-npt-off.jsonl')).report;
const mix = loadSide(join(FIX, 'run-mix-3-vcpus-2-npt-on.jsonl')).report;
const ids = (b: Report, n: Report): string[] => changeHints(b, n).map((h) => h.id);

/** A report with one more exit reason row (count over the same duration), totals kept consistent. */
function withExits(r: Report, name: string, reason: number, count: number): Report {
  const total = r.totalExits + count;
  const exits = [...r.exits.filter((e) => e.name !== name), { isa: 2, isaName: 'svm', reason, name, count, rate: count / r.durationSeconds, share: 0 }].map((e) => ({ ...e, share: e.count / total }));
  return { ...r, totalExits: total, exits };
}

const cases: Record<string, { speaks: [Report, Report]; quiet: [Report, Report] }> = {
  // the real recordings: the seed article's case and its reverse
  'nested-paging-off': { speaks: [on, off], quiet: [off, on] },
  'nested-paging-on': { speaks: [off, on], quiet: [on, off] },
  // NEW with 5000 MMIO faults over its duration, BASE with none
  'mmio-storm': { speaks: [on, { ...on, pageFaults: { ...on.pageFaults, mmio: 5000, count: on.pageFaults.count + 5000 }, totalExits: on.totalExits + 5000 }], quiet: [on, on] },
  // NEW with 2000 HLT exits (BASE has 2)
  'hlt-churn': { speaks: [on, withExits(on, 'HLT', 120, 2000)], quiet: [withExits(on, 'HLT', 120, 2000), withExits(on, 'HLT', 120, 2000)] },
  // total rate up more than 50%: the same counts over a third of the time
  'exit-rate': { speaks: [on, { ...on, durationSeconds: on.durationSeconds / 3 }], quiet: [on, on] },
  // EXCP_PF appears (npt off); the mix run against itself has nothing new
  'new-reason': { speaks: [on, off], quiet: [mix, mix] },
  // NPF's p99 bound four buckets up in NEW
  'latency-up': {
    speaks: [on, { ...on, exits: on.exits.map((e) => (e.name === 'NPF' && e.latency ? { ...e, latency: { ...e.latency, p99Ns: e.latency.p99Ns * 16 + 15 } } : e)) }],
    quiet: [on, on],
  },
  'lost-events': { speaks: [on, { ...on, lostEvents: 12 }], quiet: [{ ...on, lostEvents: 12 }, { ...on, lostEvents: 12 }] },
  'gaps': { speaks: [on, { ...on, gaps: [{ t: 1000, reason: 'bpftrace exited', resumed: true }] }], quiet: [on, on] },
  'different-kernel': { speaks: [on, { ...on, kernel: '6.12.0-1-amd64' }], quiet: [on, off] },
};

describe('hints of change', () => {
  it('every rule has a case here', () => {
    expect(Object.keys(cases).sort()).toEqual(CHANGE_RULES.map((r) => r.id).sort());
  });

  it.each(CHANGE_RULES.map((r) => r.id))('%s: speaks for its pattern, quiet without it', (id) => {
    const c = cases[id]!;
    expect(ids(...c.speaks)).toContain(id);
    expect(ids(...c.quiet)).not.toContain(id);
  });

  it('the seed article\'s case says what moved, with the numbers of the recordings', () => {
    const h = changeHints(on, off).find((x) => x.id === 'nested-paging-off');
    expect(h?.severity).toBe('warning');
    expect(h?.message).toBe(
      'Nested paging is on in BASE and off in NEW: nested page faults (NPF/EPT) went from 1031 to 0 and intercepted guest #PF (EXCP_PF) from 0 to 1031, handled by the shadow MMU (paging64_page_fault: 1031 calls). KVM shadows the guest page tables on NEW\'s host: check /sys/module/kvm_amd/parameters/npt (kvm_intel: ept) there and the VM\'s CPU model.',
    );
  });

  it('pagingMode: the host setting first, then the handlers', () => {
    expect(pagingMode(on)).toBe('nested');
    expect(pagingMode(off)).toBe('shadow');
    expect(pagingMode({ ...off, tdp: null })).toBe('shadow');
    expect(pagingMode({ ...on, tdp: null })).toBe('nested');
    expect(pagingMode({ ...on, tdp: null, tdpFaults: { handler: null, count: 0 }, handlers: [], exits: [] })).toBe('unknown');
  });
});
