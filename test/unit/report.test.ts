import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRecording } from '../../src/commands/replay.js';
import { parseOracle } from '../../src/lab/oracle.js';
import { formatReport } from '../../src/report/format.js';
import { buildReport, type Report } from '../../src/report/report.js';

const FIX = join(import.meta.dirname, '../fixtures');
const read = (p: string): string => readFileSync(join(FIX, p), 'utf8');

describe.each(['run-mix-3-vcpus-2-npt-on', 'run-npf-1031-npt-off', 'run-npf-1031-npt-on'])('the report of the recording %s', (name) => {
  const report = buildReport(loadRecording(join(FIX, 'recordings', `${name}.jsonl`)));
  const oracle = parseOracle(read(`recordings/${name}.perf.csv`));

  it('matches the golden report (parsed JSON; regenerate with scripts/update-goldens.mjs)', () => {
    expect(JSON.parse(formatReport(report, 'json'))).toEqual(JSON.parse(read(`golden/${name}.report.json`)));
  });

  it('agrees with perf stat recorded around the same run: total, per reason, page faults', () => {
    expect(report.totalExits).toBe(oracle.exits);
    for (const [reason, n] of oracle.exitsByReason) expect(report.exits.filter((e) => e.reason === reason).reduce((a, e) => a + e.count, 0), `reason ${reason}`).toBe(n);
    expect(report.pageFaults.count).toBe(oracle.pageFaults);
    expect(report.lostEvents).toBe(0);
    expect(report.complete).toBe(true);
  });

  it('shares add up to 1, rates to the total over the duration', () => {
    expect(report.exits.reduce((a, e) => a + e.share, 0)).toBeCloseTo(1, 9);
    expect(report.exits.reduce((a, e) => a + e.rate, 0) * report.durationSeconds).toBeCloseTo(report.totalExits, 6);
  });

  it('latency summaries are ordered min <= p50 <= p99 <= max', () => {
    for (const e of report.exits) {
      const l = e.latency;
      if (!l) continue;
      expect(l.minNs).toBeLessThanOrEqual(l.p50Ns);
      expect(l.p50Ns).toBeLessThanOrEqual(l.p99Ns);
      expect(l.p99Ns).toBeLessThanOrEqual(l.maxNs);
    }
  });

  it('per VM and per vCPU counts add up to the total', () => {
    expect(report.vms.reduce((a, v) => a + v.totalExits, 0)).toBe(report.totalExits);
    for (const v of report.vms) expect(v.vcpus.reduce((a, c) => a + c.count, 0)).toBe(v.totalExits);
  });

  it('has one CSV row per exit reason and a markdown table', () => {
    const csv = formatReport(report, 'csv').trim().split('\n');
    expect(csv[0]).toBe('isa,reason,name,count,rate_per_s,share,min_ns,p50_ns_le,p99_ns_le,max_ns_le');
    expect(csv).toHaveLength(report.exits.length + 1);
    expect(formatReport(report, 'markdown')).toContain('| exit reason | count |');
  });
});

describe('report semantics', () => {
  it('npt on (mix): MMIO faults apart; the TDP handler sees the other nested faults', () => {
    const r: Report = buildReport(loadRecording(join(FIX, 'recordings/run-mix-3-vcpus-2-npt-on.jsonl')));
    const nonMmio = r.pageFaults.count - r.pageFaults.mmio;
    expect(r.pageFaults.mmio).toBeGreaterThan(0);
    // (the first MMIO access of each vCPU is an ordinary fault: it installs the MMIO entry)
    expect(r.tdpFaults.count).toBe(nonMmio);
    expect(r.vms[0]?.vcpus.map((v) => v.vcpu)).toEqual([0, 1]);
  });

  it('npt off: the shadow-paging hint, with the handler calls', () => {
    const r = buildReport(loadRecording(join(FIX, 'recordings/run-npf-1031-npt-off.jsonl')));
    expect(r.tdp).toBe(false);
    expect(r.hints.map((h) => h.id)).toContain('shadow-paging');
    expect(formatReport(r, 'text')).toMatch(/WARNING: Guest page faults are intercepted/);
  });
});
