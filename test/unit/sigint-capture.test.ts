/**
 * A real bpftrace 0.17 capture of exitscope's rotating program stopped by SIGINT in the middle of an
 * interval's clears (scripts/record-sigint-fixture.mjs; provenance beside the fixture): bpftrace
 * dropped the clears after that point, and END printed that copy once more. The program's counting
 * probes ran on raw_syscalls (natively, no KVM) with never-cleared totals beside them (@total,
 * @ftotal, in bpftrace's own dump at exit): the deltas of every snapshot must add up to them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpftraceOutputParser } from '../../src/collector/bpftrace-output.js';
import { DeltaTracker } from '../../src/collector/deltas.js';
import { SnapshotReader } from '../../src/collector/snapshot-reader.js';

const FILE = join(import.meta.dirname, '../fixtures/bpftrace/sigint-dropped-clear.bpftrace.jsonl');
const BYTES = readFileSync(FILE);
const PROVENANCE = JSON.parse(readFileSync(`${FILE}.provenance.json`, 'utf8')) as { droppedClearOfCopies: number[] };

/** The never-cleared totals bpftrace printed at exit. */
function totals(text: string): { exits: number; faults: number } {
  const n = (name: string): number => Number(new RegExp(`"@${name}": (\\d+)`).exec(text)?.[1] ?? Number.NaN);
  return { exits: n('total'), faults: n('ftotal') };
}

interface Sums {
  exits: number;
  faults: number;
  regions: number;
}

function viaReader(bytes: Buffer): Sums {
  const r = new SnapshotReader();
  const s: Sums = { exits: 0, faults: 0, regions: 0 };
  const on = (e: Parameters<Parameters<SnapshotReader['push']>[1]>[0]): void => {
    if (e.kind !== 'snapshot') return;
    for (const x of e.deltas.exits) s.exits += x.n;
    for (const x of e.deltas.faults) s.faults += x.n;
    for (const x of e.deltas.regions) s.regions += x.n;
  };
  r.push(bytes, on);
  r.end(on);
  return s;
}

function viaReference(bytes: Buffer): Sums {
  const p = new BpftraceOutputParser();
  const d = new DeltaTracker();
  const s: Sums = { exits: 0, faults: 0, regions: 0 };
  p.push(bytes, (e) => {
    if (e.kind !== 'frame') return;
    const x = d.apply(e.frame);
    for (const v of x.exits) s.exits += v.n;
    for (const v of x.faults) s.faults += v.n;
    for (const v of x.regions) s.regions += v.n;
  });
  return s;
}

describe('a real SIGINT that dropped a clear (bpftrace 0.17)', () => {
  const want = totals(BYTES.toString('utf8'));
  const exact = { exits: want.exits, faults: want.faults, regions: want.faults };

  it('the capture is what it says: END names, for a copy, the interval whose clear never came, and prints that copy again', () => {
    expect(want.exits).toBeGreaterThan(10_000);
    expect(want.faults).toBeGreaterThan(10_000);
    const text = BYTES.toString('utf8');
    const final = /exitscope:final \d+((?: \d+)+)/.exec(text)?.[1]?.trim().split(' ') ?? [];
    expect(final).toHaveLength(3);
    for (const copy of PROVENANCE.droppedClearOfCopies) {
      const t = final[copy] as string;
      expect(text).toContain(`exitscope:begin ${t} `);
      expect(new RegExp(`exitscope:begin ${t} \\d ${copy}\\\\n`).test(text)).toBe(true);
    }
  });

  it('every count adds up to the kernel totals, in the collector\'s reader and in the reference', () => {
    expect(viaReader(BYTES)).toEqual(exact);
    expect(viaReference(BYTES)).toEqual(exact);
  });

  it('read as before END carried the pending times, the dropped clear\'s copy is counted twice', () => {
    const old = Buffer.from(BYTES.toString('utf8').replace(/exitscope:final (\d+)(?: \d+)+/, 'exitscope:final $1'));
    for (const got of [viaReader(old), viaReference(old)]) {
      const over = got.exits - exact.exits + (got.faults - exact.faults) + (got.regions - exact.regions);
      expect(over).toBeGreaterThan(0);
    }
  });
});
