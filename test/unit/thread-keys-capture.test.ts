/**
 * Keys by thread (probes/dialect.ts threadKeys) against real bpftrace 0.23.2 output, recorded by
 * scripts/stress-stop.mjs (provenance beside each fixture): exitscope's program on raw_syscalls of one
 * multi-threaded process, which also counts into maps nothing clears (@total, @ftotal): the kernel's
 * own counts, printed by bpftrace's dump at exit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpftraceOutputParser, type OutputEvent } from '../../src/collector/bpftrace-output.js';
import { addBuckets } from '../../src/collector/deltas.js';
import { exitsByVm, foldCounts, foldHists, threadFolded } from '../../src/collector/thread-keys.js';
import { explainRaw } from '../../src/diagnose/explain-raw.js';

const FIXTURES = join(__dirname, '..', 'fixtures', 'bpftrace');
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));
/** The kernel's counts: bpftrace's own dump of the never-cleared maps at exit. */
function kernelCounts(bytes: Buffer): { exits: number; faults: number } {
  const text = bytes.toString('utf8');
  const n = (name: string): number => Number(new RegExp(`"@${name}": (\\d+)`).exec(text)?.[1] ?? Number.NaN);
  return { exits: n('total'), faults: n('ftotal') };
}
function events(bytes: Buffer): OutputEvent[] {
  const out: OutputEvent[] = [];
  const p = new BpftraceOutputParser();
  p.push(bytes, (e) => out.push(e));
  p.end((e) => out.push(e));
  return out;
}

describe('keys by thread: the readers add the threads up', () => {
  const bytes = fixture('thread-keys-0.23.bpftrace.jsonl');
  const provenance = JSON.parse(readFileSync(join(FIXTURES, 'thread-keys-0.23.bpftrace.jsonl.provenance.json'), 'utf8')) as { kernelCounts: { exits: number; faults: number } };

  it('the capture has @faults keyed [pid, tid, code] by more than one thread of one process', () => {
    const keys = [...bytes.toString('utf8').matchAll(/"(\d+),(\d+),(\d+)": \d+/g)];
    expect(keys.length).toBeGreaterThan(0);
    expect(new Set(keys.map((m) => m[1])).size).toBe(1);
    expect(new Set(keys.map((m) => m[2])).size).toBeGreaterThan(1);
  });

  it('both readers count exactly what the kernel counted, frame by frame the same', () => {
    const truth = kernelCounts(bytes);
    expect(truth).toEqual(provenance.kernelCounts);
    for (const field of ['exits', 'faults'] as const) {
      const x = explainRaw(bytes, field);
      for (const f of x.frames) expect(f.fast, `frame at ${f.tNs}`).toBe(f.reference);
      expect(x.total.reference).toBe(truth[field]);
      expect(x.total.fast).toBe(truth[field]);
    }
  });

  it('frames carry keys without the thread', () => {
    for (const e of events(bytes)) {
      if (e.kind !== 'frame') continue;
      for (const copy of e.frame.copies.values()) for (const k of copy.faults.keys()) expect(k.split(',')).toHaveLength(2);
    }
  });
});

describe('without keys by thread, bpftrace 0.23 loses a count and says so', () => {
  const bytes = fixture('racy-first-insert-0.23.bpftrace.jsonl');

  it('the kernel kept one count fewer in @faults than @ftotal saw, and bpftrace reported the failed update', () => {
    const truth = kernelCounts(bytes);
    const errors = events(bytes).filter((e) => e.kind === 'helper_error');
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e).toMatchObject({ kind: 'helper_error', helper: 'map_update_elem', retcode: -17 });
    const x = explainRaw(bytes, 'faults');
    // what the printed maps held is all the readers can count: the kernel's total less the failed updates
    expect(x.total.reference).toBe(truth.faults - errors.length);
    expect(x.total.fast).toBe(x.total.reference);
    expect(x.notes.some((n) => n.includes('map_update_elem') && n.includes('did not keep'))).toBe(true);
    // exits are keyed by thread there already: exact
    expect(explainRaw(bytes, 'exits').total.fast).toBe(truth.exits);
  });
});

describe('thread-keys.ts', () => {
  it('folds only a key with one number more than its map has', () => {
    expect(threadFolded('faults', '12,34,5')).toBe('12,5');
    expect(threadFolded('regions', '12,34,4294967296')).toBe('12,4294967296');
    expect(threadFolded('faults', '12,5')).toBeUndefined();
    expect(threadFolded('faults', '1,2,3,4')).toBeUndefined();
    expect(threadFolded('exits', '12,34,1,2')).toBeUndefined();
    expect(threadFolded('exitNs', '12,34,77')).toBe('12,77');
    expect(threadFolded('handlerCalls', '12,34,0')).toBe('12,0');
    expect(threadFolded('handlerNs', '12,34,1')).toBe('12,1');
  });
  it('exit counts by thread added up to the VM (tid 0), per ISA and reason', () => {
    expect(
      exitsByVm([
        { pid: 1, tid: 2, isa: 1, reason: 30, n: 3 },
        { pid: 1, tid: 3, isa: 1, reason: 30, n: 4 },
        { pid: 1, tid: 3, isa: 1, reason: 12, n: 1 },
        { pid: 9, tid: 10, isa: 1, reason: 30, n: 5 },
      ]),
    ).toEqual([
      { pid: 1, tid: 0, isa: 1, reason: 30, n: 7 },
      { pid: 1, tid: 0, isa: 1, reason: 12, n: 1 },
      { pid: 9, tid: 0, isa: 1, reason: 30, n: 5 },
    ]);
  });

  it('adds a print up per key; a key without a thread stays as it is', () => {
    expect([...foldCounts('faults', { '1,10,4': 2, '1,11,4': 3, '1,10,5': 1, '2,6': 7 })]).toEqual([
      ['1,4', 5],
      ['1,5', 1],
      ['2,6', 7],
    ]);
    const a = [{ low: 1, count: 2 }, { low: 4, count: 1 }];
    const b = [{ low: 2, count: 5 }, { low: 4, count: 3 }];
    expect([...foldHists('exitNs', [['9,1,77', a], ['9,2,77', b], ['9,78', b]])]).toEqual([
      ['9,77', addBuckets(a, b)],
      ['9,78', b],
    ]);
    expect(addBuckets(a, b)).toEqual([{ low: 1, count: 2 }, { low: 2, count: 5 }, { low: 4, count: 4 }]);
  });
});
