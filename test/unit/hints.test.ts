import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRecording } from '../../src/commands/replay.js';
import { hintsFor, RULES } from '../../src/report/hints.js';
import { buildReport, type Report } from '../../src/report/report.js';

const FIX = join(import.meta.dirname, '../fixtures/recordings');
const real = (name: string): Report => buildReport(loadRecording(join(FIX, `${name}.jsonl`)));
const ids = (r: Report): string[] => hintsFor(r).map((h) => h.id);

/** A real report with its exit rows replaced by these (name -> count); shares recomputed. */
function withExits(base: Report, rows: Record<string, number>, patch: Partial<Report> = {}): Report {
  const total = Object.values(rows).reduce((a, n) => a + n, 0);
  const exits = Object.entries(rows).map(([name, count]) => ({ ...base.exits[0]!, name, count, share: count / total, rate: count / base.durationSeconds }));
  return { ...structuredClone(base), exits, totalExits: total, ...patch };
}

describe('diagnosis hints on real recordings', () => {
  it('npt off (the seed article\'s case): shadow paging, in one line', () => {
    const h = hintsFor(real('run-npf-1031-npt-off'));
    expect(h.map((x) => x.id)).toContain('shadow-paging');
    expect(h.find((x) => x.id === 'shadow-paging')?.message).toMatch(/nested paging \(NPT\/EPT\) is off/);
  });
  it('npt on: no shadow-paging hint, no lost events, no gaps', () => {
    const got = ids(real('run-mix-3-vcpus-2-npt-on'));
    for (const id of ['shadow-paging', 'lost-events', 'gaps']) expect(got).not.toContain(id);
  });
});

describe('real kvm_intel recordings from the Intel lab (fixtures/recordings/intel-run-ept-*.jsonl, see their provenance)', () => {
  /** perf stat's counts in the same guest, around the same run: total, error_code & write bit, & fetch bit. */
  const perf = (name: string): number[] =>
    readFileSync(join(FIX, `${name}.faults.csv`), 'utf8').split('\n').filter((l) => l.length > 0 && !l.startsWith('#')).map((l) => Number(l.split(',')[0]));
  const kinds = (r: Report, access: string): number => r.pageFaults.byKind.filter((k) => k.kind.startsWith(`${access},`)).reduce((a, k) => a + k.count, 0);

  it('ept=0: the shadow-paging hint, on exception exits carrying #PF; faults decoded as #PF error codes', () => {
    const r = real('intel-run-ept-off');
    const [total, write, fetch] = perf('intel-run-ept-off');
    expect(r.vendor).toBe('intel');
    expect(hintsFor(r).find((h) => h.id === 'shadow-paging')?.message).toMatch(/EXCEPTION_NMI exits carrying #PF/);
    expect([r.pageFaults.count, kinds(r, 'write'), kinds(r, 'fetch')]).toEqual([total, write, fetch]);
    expect(r.tdpFaults.count).toBe(0);
  });
  it('ept=1: no shadow-paging hint; faults decoded as EPT qualifications; one TDP handler call per EPT violation', () => {
    const r = real('intel-run-ept-on');
    const [total, write, fetch, , eptViolations] = perf('intel-run-ept-on');
    expect(ids(r)).not.toContain('shadow-paging');
    expect([r.pageFaults.count, kinds(r, 'write'), kinds(r, 'fetch')]).toEqual([total, write, fetch]);
    expect(r.tdpFaults).toMatchObject({ handler: 'kvm_tdp_page_fault', count: eptViolations });
    expect(r.exits.find((e) => e.name === 'EPT_MISCONFIG')?.count).toBeGreaterThan(0);
  });
});

describe("shadow paging on Intel: EXCEPTION_NMI exits carrying #PF", () => {
  const off = real('run-npf-1031-npt-off');
  const noHandlers = { handlers: [], tdpFaults: { handler: null, count: 0 } };
  const intel = (rows: Record<string, number>, faults: number) => withExits(off, rows, { ...noHandlers, vendor: 'intel', tdp: false, pageFaults: { ...off.pageFaults, count: faults, mmio: 0 } });
  it('fires when the exception exits are page faults (kvm_page_fault counted them)', () => {
    const r = intel({ EXCEPTION_NMI: 30, IO_INSTRUCTION: 70 }, 30);
    expect(ids(r)).toContain('shadow-paging');
    expect(hintsFor(r).find((h) => h.id === 'shadow-paging')?.message).toMatch(/30% of exits are EXCEPTION_NMI exits carrying #PF/);
  });
  it('does not fire on exception exits that are not page faults (NMIs, #UD...)', () => {
    expect(ids(intel({ EXCEPTION_NMI: 30, IO_INSTRUCTION: 70 }, 0))).not.toContain('shadow-paging');
  });
  it('does not fire with EPT on: kvm_page_fault then comes from EPT violations', () => {
    expect(ids(intel({ EXCEPTION_NMI: 30, EPT_VIOLATION: 30, IO_INSTRUCTION: 40 }, 30))).not.toContain('shadow-paging');
  });
});

describe('each rule fires on its pattern and not beside it', () => {
  const on = real('run-mix-3-vcpus-2-npt-on');
  const off = real('run-npf-1031-npt-off');
  const cases: Record<string, { yes: Report; no: Report }> = {
    'shadow-paging': {
      yes: withExits(off, { EXCP_PF: 30, IOIO: 70 }, { handlers: [], tdpFaults: { handler: null, count: 0 } }),
      no: withExits(on, { EXCP_PF: 30, IOIO: 70 }, { handlers: [], tdpFaults: { handler: 'kvm_tdp_page_fault', count: 5 } }),
    },
    mmio: {
      yes: withExits(on, { NPF: 50, IOIO: 50 }, { pageFaults: { ...on.pageFaults, count: 50, mmio: 40 } }),
      no: withExits(on, { NPF: 50, IOIO: 50 }, { pageFaults: { ...on.pageFaults, count: 50, mmio: 10 } }),
    },
    'hlt-storm': { yes: withExits(on, { HLT: 40, IOIO: 60 }), no: withExits(on, { HLT: 20, IOIO: 80 }) },
    'nested-faults': {
      yes: withExits(on, { NPF: 40, IOIO: 60 }, { tdp: true, pageFaults: { ...on.pageFaults, count: 40, mmio: 0 } }),
      no: withExits(on, { NPF: 40, IOIO: 60 }, { tdp: true, pageFaults: { ...on.pageFaults, count: 40, mmio: 30 } }),
    },
    'lost-events': { yes: { ...on, lostEvents: 3 }, no: { ...on, lostEvents: 0 } },
    gaps: { yes: { ...on, gaps: [{ t: 1, reason: 'bpftrace exited (signal SIGKILL)', resumed: true }] }, no: { ...on, gaps: [] } },
  };

  it('every rule has a case here', () => {
    expect(Object.keys(cases).sort()).toEqual(RULES.map((r) => r.id).sort());
  });
  it.each(Object.keys(cases))('%s', (id) => {
    const c = cases[id]!;
    expect(ids(c.yes)).toContain(id);
    expect(ids(c.no)).not.toContain(id);
    const msg = hintsFor(c.yes).find((h) => h.id === id)!.message;
    expect(msg.length).toBeGreaterThan(20);
    expect(msg).not.toMatch(/undefined|NaN/);
  });
});
