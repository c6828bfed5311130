import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ORACLE_REASONS, oracleArgv, parseOracle } from '../../src/lab/oracle.js';
import { parseTally, workloadArgs } from '../../src/lab/workload.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/oracle');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

describe('oracleArgv', () => {
  it('counts kvm_exit per reason with one filtered event each, system-wide', () => {
    const argv = oracleArgv(['w', 'io', '7'], '/tmp/o.csv', [123, 120]);
    expect(argv.slice(0, 7)).toEqual(['perf', 'stat', '-x', ',', '-o', '/tmp/o.csv', '-a']);
    expect(argv.join(' ')).toContain('-e kvm:kvm_exit --filter exit_reason == 123 -e kvm:kvm_exit --filter exit_reason == 120 -- w io 7');
  });
  it('refuses a reason that is not a number', () => {
    expect(() => oracleArgv(['w'], '/o', [Number.NaN])).toThrow(RangeError);
  });
});

describe('parseOracle on real perf stat output (test/fixtures/oracle, recorded in the lab)', () => {
  it('io 1009: reads the filtered counts in order', () => {
    const o = parseOracle(fixture('io-1009.perf.csv'));
    expect(o.exitsByReason.get(0x7b)).toBe(1009);
    expect(o.exitsByReason.size).toBe(ORACLE_REASONS.length);
    // everything the per-reason counters saw is part of the total
    const sum = [...o.exitsByReason.values()].reduce((a, b) => a + b, 0);
    expect(o.exits).toBeGreaterThanOrEqual(sum);
    expect(o.entries).toBeGreaterThan(0);
  });

  it('npf 1031: page faults equal nested page fault exits', () => {
    const o = parseOracle(fixture('npf-1031.perf.csv'));
    expect(o.exitsByReason.get(0x400)).toBe(1031);
    expect(o.pageFaults).toBe(1031);
  });

  it('agrees with the tally recorded beside it, reason by reason', () => {
    for (const name of ['io-1009', 'npf-1031']) {
      const o = parseOracle(fixture(`${name}.perf.csv`));
      const t = parseTally(fixture(`${name}.tally.json`));
      for (const e of t.expected) expect(o.exitsByReason.get(e.reason), `${name} ${e.name}`).toBe(e.count);
    }
  });

  it('rejects output with a counter missing, or not counted', () => {
    const csv = fixture('io-1009.perf.csv');
    const lines = csv.split('\n');
    expect(() => parseOracle(lines.slice(0, -3).join('\n'))).toThrow(/printed \d+ counters/);
    expect(() => parseOracle(csv.replace(/^1009,/m, '<not counted>,'))).toThrow(/could not count/);
  });
});

describe('the workload tally', () => {
  it('parses the real tally and rejects a malformed one', () => {
    const t = parseTally(fixture('io-1009.tally.json'));
    expect(t).toMatchObject({ scenario: 'io', n: 1009, vendor: 'amd', tdp: true, ok: true });
    expect(() => parseTally('nothing here')).toThrow(/no workload tally/);
    expect(() => parseTally('{"scenario":"io","n":-1}')).toThrow();
  });

  it('builds argv from checked values only', () => {
    expect(workloadArgs('npf', 1031, 2)).toEqual(['npf', '1031', '--vcpus', '2']);
    expect(workloadArgs('io', 5)).toEqual(['io', '5']);
    expect(() => workloadArgs('io', 1.5)).toThrow(RangeError);
    expect(() => workloadArgs('io', 5, 0)).toThrow(RangeError);
    expect(() => workloadArgs('rm -rf' as 'io', 5)).toThrow(/unknown scenario/);
  });
});
