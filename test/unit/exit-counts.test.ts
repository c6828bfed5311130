/**
 * ExitCounts is the Map<string, number> of exit keys held in typed arrays: checked against a real
 * Map under seeded random operations (growth, deletes, rebuilds, keys coming back), through both
 * its Map API and its numeric one, with keys that do not fit 32 bits and strings that are not
 * canonical (kept beside, exact). And the snapshot fast path: entries used as parsed, extra
 * fields stripped as zod strips them.
 */
import { describe, expect, it } from 'vitest';
import { ExitCounts, exitKey } from '../../src/model/exit-counts.js';
import { Message } from '../../src/protocol/messages.js';
import { fastSnapshot } from '../../src/recording/snapshot-fast-path.js';

/** mulberry32: seeded, well spread in every bit (keys must repeat and come back, not cycle). */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

/** A Map's entries in ExitCounts' order: keys that fit 32 bits first, those kept beside after, each in insertion order. */
function inOrder(m: Map<string, number>): [string, number][] {
  const fits = (k: string): boolean => k.split(',').every((x, i) => (i === 3 ? Number(x) >>> 0 === Number(x) : (Number(x) | 0) === Number(x)));
  return [...[...m].filter(([k]) => fits(k)), ...[...m].filter(([k]) => !fits(k))];
}

describe('ExitCounts: the same as a Map of "pid,tid,isa,reason" keys', () => {
  it.each([1, 2, 3])('seeded random adds, sets and deletes (seed %i): same entries, order, size and values as a Map', (seed) => {
    const r = rng(seed);
    const m = new Map<string, number>();
    const c = new ExitCounts();
    // few enough keys that they come back after a delete; out-of-range numbers now and then
    const pick = (): [number, number, number, number] => {
      const odd = r(50) === 0;
      return [odd ? 2 ** 40 + r(3) : 1000 + r(20), r(2) ? -r(5) : 2000 + r(30), odd ? -1 : 1 + r(2), odd ? 2 ** 32 + r(2) : r(3) ? r(30) : 0xffffffff - r(2)];
    };
    let maxSize = 0;
    for (let i = 0; i < 20_000; i++) {
      const [p, t, isa, reason] = pick();
      const k = exitKey(p, t, isa, reason);
      const op = r(10);
      if (op < 5) {
        const n = r(1000);
        m.set(k, (m.get(k) ?? 0) + n);
        c.add(p, t, isa, reason, n);
      } else if (op < 7) {
        expect(c.delete(k)).toBe(m.delete(k));
      } else if (op < 8) {
        m.set(k, i);
        c.set(k, i);
      } else if (op < 9) {
        expect(c.deleteOf(p, t, isa, reason)).toBe(m.delete(k));
      } else {
        expect(c.get(k)).toBe(m.get(k));
        expect(c.getOf(p, t, isa, reason)).toBe(m.get(k));
        expect(c.has(k)).toBe(m.has(k));
      }
      if (i % 1000 === 0) expect([...c]).toEqual(inOrder(m));
      maxSize = Math.max(maxSize, m.size);
    }
    expect(c.size).toBe(m.size);
    expect(maxSize).toBeGreaterThan(1000); // the table grew many times and rebuilt with deleted entries in it
    expect([...c]).toEqual(inOrder(m));
    expect([...c.keys()]).toEqual(inOrder(m).map(([k]) => k));
    expect(new Map(c)).toEqual(m);
    const seen: [string, number][] = [];
    c.forEachExit((n, p, t, isa, reason) => seen.push([exitKey(p, t, isa, reason), n]));
    expect(new Map(seen)).toEqual(m);
    expect([...c.values()].reduce((a, b) => a + b, 0)).toBe([...m.values()].reduce((a, b) => a + b, 0));
  });

  it('a million keys: every count exact, found again after the table grew', () => {
    const c = new ExitCounts();
    let sum = 0;
    for (let p = 0; p < 1000; p++) for (let t = 0; t < 10; t++) for (let r = 0; r < 100; r++) c.add(10_000 + p, 20_000 + t, 2, 0x500 + r, p + t + r);
    for (let p = 0; p < 1000; p++) for (let t = 0; t < 10; t++) for (let r = 0; r < 100; r++) sum += c.getOf(10_000 + p, 20_000 + t, 2, 0x500 + r) ?? Number.NaN;
    expect(c.size).toBe(1_000_000);
    expect(sum).toBe(1000 * 10 * 100 * ((999 + 9 + 99) / 2));
    expect(c.get('10999,20009,2,1379')).toBe(999 + 9 + 99);
  });

  it('strings not written as String(n) writes numbers are other keys, kept as given', () => {
    const c = new ExitCounts();
    for (const k of ['1,2,3,4', '01,2,3,4', '-0,2,3,4', '1,2,3', '1,2,3,4,5', '1,2,3,-4', ' 1,2,3,4', '1,2,3,4294967296', 'a,b,c,d', '', '-1,-2,-3,4294967295']) c.set(k, k.length);
    expect([...c.keys()].sort()).toEqual(['1,2,3,4', '01,2,3,4', '-0,2,3,4', '1,2,3', '1,2,3,4,5', '1,2,3,-4', ' 1,2,3,4', '1,2,3,4294967296', 'a,b,c,d', '', '-1,-2,-3,4294967295'].sort());
    expect(c.getOf(1, 2, 3, 4)).toBe(7);
    expect(c.getOf(-1, -2, -3, 4294967295)).toBe(19);
    expect(c.get('01,2,3,4')).toBe(8);
    c.clear();
    expect(c.size).toBe(0);
    expect([...c]).toEqual([]);
  });
});

describe('the snapshot fast path', () => {
  const base = { type: 'snapshot', seq: 1, t: 1000, ms: 1000, exitNs: [], faults: [], regions: [], handlers: [] };

  it('uses entries with exactly the schema fields as parsed (no copy of a big line)', () => {
    const j = JSON.parse(JSON.stringify({ ...base, exits: [{ pid: 1, tid: 2, isa: 2, reason: 0x78, n: 5 }], exitNs: [{ pid: 1, isa: 2, reason: 0x78, b: [[4096, 1]] }] })) as { exits: object[]; exitNs: object[] };
    const fast = fastSnapshot(j);
    expect(fast?.exits[0]).toBe(j.exits[0]);
    expect(fast?.exitNs[0]).toBe(j.exitNs[0]);
    expect(fast).toEqual(Message.parse(j));
  });

  it('strips fields the schema does not have, as zod does (the entries before and after included)', () => {
    const j = JSON.parse(JSON.stringify({ ...base, exits: [{ pid: 1, tid: 2, isa: 2, reason: 1, n: 1 }, { pid: 1, tid: 3, isa: 2, reason: 1, n: 1, extra: 'x' }, { pid: 1, tid: 4, isa: 2, reason: 1, n: 1 }], handlers: [{ pid: 1, h: 0, n: 1, b: [], more: 1 }] })) as unknown;
    const fast = fastSnapshot(j);
    expect(fast).toBeDefined();
    expect(fast).toStrictEqual(Message.parse(j));
    expect(fast?.exits.map((e) => Object.keys(e).length)).toEqual([5, 5, 5]);
    expect(Object.keys(fast?.handlers[0] ?? {})).toEqual(['pid', 'h', 'n', 'b']);
  });
});
