/**
 * The model's ring keeps snapshots packed (src/model/packed-snapshot.ts). Property tests with a
 * fixed seed: a packed snapshot gives back exactly the message's entries, in order (including
 * numbers that do not fit the packed form), and rolling windows summed from packed snapshots equal
 * sums of the messages from scratch, histograms and handlers included.
 */
import { describe, expect, it } from 'vitest';
import { Aggregate } from '../../src/model/aggregate.js';
import { packSnapshot } from '../../src/model/packed-snapshot.js';
import type { HelloMessage, SnapshotMessage } from '../../src/protocol/messages.js';
import { fromScratch, plain } from './support/totals-from-scratch.js';
import { prng } from './support/prng.js';

/** Whole numbers below n, the same stream every run (mulberry32). */
function random(seed: number): (n: number) => number {
  const next = prng(seed);
  return (n) => Math.floor(next() * n);
}

const hello: HelloMessage = { type: 'hello', v: 1, startedAt: '2026-11-28T00:00:00.000Z', host: 'h', kernel: 'k', bpftrace: '0.17.0', vendor: 'amd', tdp: true, intervalMs: 1000, probes: [], handlers: ['kvm_tdp_page_fault', 'paging64_page_fault'], filters: { pids: [], reasons: [] } };

/** A random snapshot: a few VMs, threads, reasons (known and not), zero counts, histograms, now and then a number too big for int32. */
function randomSnapshot(rnd: (n: number) => number, seq: number, huge: boolean): SnapshotMessage {
  const pids = [100, 200, 300, 400].slice(0, 1 + rnd(4));
  const big = (x: number): number => (huge && rnd(20) === 0 ? x + 2 ** 40 : x);
  const buckets = (): [number, number][] => Array.from({ length: rnd(5) }, (_, i) => [2 ** (10 + i + rnd(3)), rnd(4) === 0 ? 0 : 1 + rnd(1000)] as [number, number]);
  const exits: SnapshotMessage['exits'] = [];
  for (const pid of pids) for (let tid = pid + 1; tid < pid + 1 + rnd(4); tid++) for (const reason of [0x78, 0x7b, 0x400, 0x1234]) if (rnd(3) > 0) exits.push({ pid: big(pid), tid, isa: 2, reason: huge && rnd(30) === 0 ? 2 ** 33 : reason, n: rnd(6) === 0 ? 0 : rnd(2 ** 20) });
  return {
    type: 'snapshot',
    seq,
    t: seq * 1000,
    ms: rnd(5) === 0 ? 0 : 200 + rnd(3000),
    exits,
    exitNs: pids.flatMap((pid) => [0x78, 0x400].filter(() => rnd(2) === 0).map((reason) => ({ pid, isa: 2, reason, b: buckets() }))),
    faults: pids.filter(() => rnd(2) === 0).map((pid) => ({ pid, code: 4294967302, n: rnd(100) })),
    regions: pids.filter(() => rnd(2) === 0).map((pid) => ({ pid, region: rnd(8), n: rnd(100) })),
    handlers: pids.filter(() => rnd(2) === 0).map((pid) => ({ pid, h: rnd(2), n: rnd(100), b: buckets() })),
  };
}

describe('packed ring snapshots', () => {
  it('give back exactly the entries of the message, in order (500 random snapshots, some with numbers beyond int32)', () => {
    const rnd = random(7);
    for (let i = 0; i < 500; i++) {
      const s = randomSnapshot(rnd, i, i % 2 === 1);
      const p = packSnapshot(s);
      const exits: SnapshotMessage['exits'] = [];
      p.forEachExit((n, pid, tid, isa, reason) => exits.push({ pid, tid, isa, reason, n }));
      expect(exits).toEqual(s.exits);
      expect(p.exitEntries).toBe(s.exits.length);
      const exitNs: SnapshotMessage['exitNs'] = [];
      p.forEachLatency((pid, isa, reason, pairs, from, to) => {
        const b: [number, number][] = [];
        for (let j = from; j < to; j += 2) b.push([pairs[j] as number, pairs[j + 1] as number]);
        exitNs.push({ pid, isa, reason, b });
      });
      expect(exitNs).toEqual(s.exitNs);
      const handlers: SnapshotMessage['handlers'] = [];
      p.forEachHandler((pid, h, n, pairs, from, to) => {
        const b: [number, number][] = [];
        for (let j = from; j < to; j += 2) b.push([pairs[j] as number, pairs[j + 1] as number]);
        handlers.push({ pid, h, n, b });
      });
      expect(handlers).toEqual(s.handlers);
      expect([p.seq, p.t, p.ms, p.faults, p.regions]).toEqual([s.seq, s.t, s.ms, s.faults, s.regions]);
    }
  });

  it('a reason beyond int32 but within uint32 is packed and read back as itself', () => {
    const s: SnapshotMessage = { type: 'snapshot', seq: 0, t: 0, ms: 1000, exits: [{ pid: 1, tid: 2, isa: 1, reason: 0x80000021, n: 2 ** 52 }], exitNs: [], faults: [], regions: [], handlers: [] };
    const got: number[][] = [];
    packSnapshot(s).forEachExit((n, pid, tid, isa, reason) => got.push([n, pid, tid, isa, reason]));
    expect(got).toEqual([[2 ** 52, 1, 2, 1, 0x80000021]]);
  });
});

describe('Aggregate windows from packed snapshots equal sums of the messages from scratch', () => {

  it('on 300 random snapshots (histograms, handlers, zero lengths, big numbers), every window at every step', () => {
    const rnd = random(2026);
    const a = new Aggregate(10_000);
    a.apply(hello);
    const ring: SnapshotMessage[] = [];
    const keep = Math.ceil(10_000 / hello.intervalMs) + 1;
    for (let i = 0; i < 300; i++) {
      const s = randomSnapshot(rnd, i, rnd(10) === 0);
      a.apply(s);
      ring.push(s);
      if (ring.length > keep) ring.shift();
      for (const ms of [1000, 3000, 10_000]) expect(plain(a.window(ms)), `snapshot ${i}, window ${ms}`).toEqual(plain(fromScratch(ring, ms)));
    }
    expect(a.history().length).toBe(keep);
  });
});
