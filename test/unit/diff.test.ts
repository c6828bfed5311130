/**
 * exitscope diff on real recordings (test/fixtures/recordings, recorded in the lab by
 * scripts/record-fixtures.mjs): the same workload, npf 1031, with nested paging on and off.
 * Goldens in test/fixtures/golden (regenerate with scripts/update-goldens.mjs, review the diff).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { change, compareReports } from '../../src/diff/compare.js';
import { formatChange, formatDiff } from '../../src/diff/format.js';
import { loadSide } from '../../src/diff/load-side.js';
import { formatReport } from '../../src/report/format.js';
import { isUserError } from '../../src/errors.js';

const FIX = join(import.meta.dirname, '../fixtures');
const ON = 'run-npf-1031-npt-on';
const OFF = 'run-npf-1031-npt-off';
const rec = (n: string): string => join(FIX, 'recordings', `${n}.jsonl`);
const golden = (f: string): string => readFileSync(join(FIX, 'golden', f), 'utf8');
const onSide = loadSide(rec(ON));
const offSide = loadSide(rec(OFF));
const diff = compareReports(onSide.report, offSide.report, { baseLabel: `${ON}.jsonl`, nextLabel: `${OFF}.jsonl`, byVm: true });

describe('diff of npf 1031, nested paging on (BASE) and off (NEW)', () => {
  it('matches the goldens: text, json, markdown', () => {
    const name = 'diff-npf-1031-npt-on-vs-npf-1031-npt-off';
    expect(formatDiff(diff, 'text')).toBe(golden(`${name}.txt`));
    expect(JSON.parse(formatDiff(diff, 'json'))).toEqual(JSON.parse(golden(`${name}.json`)));
    expect(formatDiff(diff, 'markdown')).toBe(golden(`${name}.md`));
  });

  it('NPF exits (SVM 0x400) replaced by #PF intercepts (0x4e = 78): counts from the recordings', () => {
    const npf = diff.exits.find((e) => e.reason === 0x400);
    const pf = diff.exits.find((e) => e.reason === 78);
    expect(npf).toMatchObject({ name: 'NPF', count: { base: 1031, next: 0, delta: -1031 } });
    expect(pf).toMatchObject({ name: 'EXCP_PF', count: { base: 0, next: 1031, delta: 1031, relative: null } });
    // the tdp handler's calls moved to the shadow MMU's
    expect(diff.handlers.find((h) => h.handler === 'kvm_tdp_page_fault')?.count).toMatchObject({ base: 1031, next: 0 });
    expect(diff.handlers.find((h) => h.handler === 'paging64_page_fault')?.count).toMatchObject({ base: 0, next: 1031 });
    // the same guest page faults on both sides: the kinds did not change, only who handles them
    expect(diff.pageFaults.count).toMatchObject({ base: 1031, next: 1031, delta: 0 });
    expect(diff.hints[0]?.id).toBe('nested-paging-off');
  });

  it('every side number equals its report; rates are counts over each side\'s own duration', () => {
    for (const [side, r] of [['base', onSide.report], ['next', offSide.report]] as const) {
      expect(diff.total.count[side]).toBe(r.totalExits);
      expect(diff.total.rate[side]).toBeCloseTo(r.totalExits / r.durationSeconds, 9);
      for (const e of r.exits) {
        const row = diff.exits.find((x) => x.reason === e.reason && x.isaName === e.isaName);
        expect(row?.count[side]).toBe(e.count);
        expect(row?.rate[side]).toBeCloseTo(e.rate, 9);
        expect(row?.share[side]).toBe(e.share);
        expect(row?.p99Ns[side]).toBe(e.latency?.p99Ns ?? null);
      }
    }
  });

  it('--by vm pairs the one workload VM of each run (one unnamed: "pid N")', () => {
    expect(diff.vms).toHaveLength(1);
    expect(diff.vms?.[0]?.totalExits).toMatchObject({ base: onSide.report.totalExits, next: offSide.report.totalExits });
  });

  it('a report -f json file gives the same comparison as its recording', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exitscope-diff-'));
    writeFileSync(join(dir, 'on.json'), formatReport(onSide.report, 'json'));
    const fromJson = loadSide(join(dir, 'on.json'));
    expect(fromJson.kind).toBe('report');
    expect(onSide.kind).toBe('recording');
    const again = compareReports(fromJson.report, offSide.report, { baseLabel: `${ON}.jsonl`, nextLabel: `${OFF}.jsonl`, byVm: true });
    expect(again).toEqual(diff);
  });

  it('a run against itself: every change 0, no hint', () => {
    const same = compareReports(offSide.report, offSide.report, { baseLabel: 'a', nextLabel: 'b', byVm: true });
    expect(same.exits.every((e) => e.count.delta === 0 && e.rate.delta === 0)).toBe(true);
    expect(same.hints).toEqual([]);
  });

  it('the mix recording against npf: reasons on one side only are rows of their own', () => {
    const mix = loadSide(rec('run-mix-3-vcpus-2-npt-on')).report;
    const d = compareReports(mix, offSide.report, { baseLabel: 'mix', nextLabel: 'npf' });
    const names = new Set([...mix.exits, ...offSide.report.exits].map((e) => `${e.isa},${e.reason}`));
    expect(d.exits).toHaveLength(names.size);
    expect(d.vms).toBeUndefined();
  });
});

describe('inputs that are not a run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'exitscope-diff-bad-'));
  it.each([
    ['not JSON', 'hello world\n'],
    ['JSON, not a report', '{"a": 1}\n'],
    ['a report of another version', JSON.stringify({ ...JSON.parse(formatReport(onSide.report, 'json')), version: 99 })],
    ['a report with a field of the wrong type', JSON.stringify({ ...JSON.parse(formatReport(onSide.report, 'json')), exits: [{ name: 1 }] })],
  ])('%s: NOT_A_REPORT with a fix', (_, text) => {
    const f = join(dir, `${Math.random()}.json`);
    writeFileSync(f, text);
    try {
      loadSide(f);
      expect.unreachable();
    } catch (e) {
      expect(isUserError(e) && e.code).toBe('NOT_A_REPORT');
    }
  });

  it('a FIFO with no writer: refused at once (RECORDING_NOT_FILE), never waited on', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => loadSide(fifo)).toThrow(/is a FIFO/);
  });

  it('a missing file: the reader\'s error, naming it', () => {
    expect(() => loadSide(join(dir, 'nope.jsonl'))).toThrow(/nope\.jsonl/);
  });
});

describe('formatChange', () => {
  it.each([
    [change(0, 5), '+5 (new)'],
    [change(5, 0), '-5 (gone)'],
    [change(100, 112), '+12 (+12.0%)'],
    [change(100, 50), '-50 (-50.0%)'],
    [change(7, 7), '0'],
  ])('%o -> %s', (c, s) => {
    expect(formatChange(c)).toBe(s);
  });
});
