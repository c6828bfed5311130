/**
 * The sparklines' series (ui/reason-rates.ts: each snapshot's per-reason rates summed once and
 * kept) against the sum from scratch over the ring at every frame, as the view model did before:
 * the same doubles, for all VMs and for each VM, on a random stream with a fixed seed.
 */
import { describe, expect, it } from 'vitest';
import { Aggregate } from '../../src/model/aggregate.js';
import { decodeExitReason } from '../../src/model/exit-reasons.js';
import type { HelloMessage, SnapshotMessage } from '../../src/protocol/messages.js';
import { intervalRates, reasonSeries } from '../../ui/reason-rates.js';
import { prng } from './support/prng.js';

/** Whole numbers below n, the same stream every run (mulberry32). */
function random(seed: number): (n: number) => number {
  const next = prng(seed);
  return (n) => Math.floor(next() * n);
}

const hello: HelloMessage = { type: 'hello', v: 1, startedAt: '2026-11-28T00:00:00.000Z', host: 'h', kernel: 'k', bpftrace: '0.17.0', vendor: 'amd', tdp: true, intervalMs: 1000, probes: [], handlers: [], filters: { pids: [], reasons: [] } };

/** The view model's former loop: every entry of every snapshot in the ring, at every frame. */
function fromScratch(history: readonly SnapshotMessage[], vmPid: number | undefined): Map<string, number[]> {
  const series = new Map<string, number[]>();
  history.forEach((s, i) => {
    for (const e of s.exits) {
      if (vmPid !== undefined && e.pid !== vmPid) continue;
      const key = `${e.isa},${decodeExitReason(e.isa, e.reason).reason}`;
      let v = series.get(key);
      if (!v) series.set(key, (v = new Array<number>(history.length).fill(0)));
      v[i] = (v[i] ?? 0) + (s.ms > 0 ? (e.n * 1000) / s.ms : 0);
    }
  });
  return series;
}

describe('sparkline series, summed once per snapshot', () => {
  it('equal the sums from scratch at every step of a random stream (all VMs and each VM, 200 snapshots, a 20 s ring)', () => {
    const rnd = random(42);
    const a = new Aggregate(20_000);
    a.apply(hello);
    const ring: SnapshotMessage[] = [];
    const keep = Math.ceil(20_000 / hello.intervalMs) + 1;
    const pids = [11, 22, 33];
    // SVM and VMX codes, known and unknown, some decoding to the same reason (VMX's high bits)
    const reasons: [number, number][] = [[2, 0x78], [2, 0x7b], [2, 0x400], [2, 0x9999], [1, 12], [1, 0x80000021], [1, 33]];
    for (let i = 0; i < 200; i++) {
      const exits: SnapshotMessage['exits'] = [];
      for (const pid of pids) for (let tid = pid * 10; tid < pid * 10 + 3; tid++) for (const [isa, reason] of reasons) if (rnd(3) > 0) exits.push({ pid, tid, isa, reason, n: rnd(5) === 0 ? 0 : rnd(1e6) });
      // shuffle: the order of entries is the order of the sums
      for (let j = exits.length - 1; j > 0; j--) {
        const k = rnd(j + 1);
        [exits[j], exits[k]] = [exits[k] as SnapshotMessage['exits'][number], exits[j] as SnapshotMessage['exits'][number]];
      }
      const s: SnapshotMessage = { type: 'snapshot', seq: i, t: i * 1000, ms: rnd(6) === 0 ? 0 : 1 + rnd(2000), exits, exitNs: [], faults: [], regions: [], handlers: [] };
      a.apply(s);
      ring.push(s);
      if (ring.length > keep) ring.shift();
      for (const pid of [undefined, ...pids, 99]) {
        // asked at every step for all VMs, now and then for one: the cache must never go stale
        if (pid !== undefined && rnd(3) > 0) continue;
        expect(reasonSeries(a.history(), pid), `snapshot ${i}, vm ${pid}`).toEqual(fromScratch(ring, pid));
      }
    }
  });

  it('an interval with no exits of a VM gives no rates for it, and the same object each time it is asked', () => {
    const a = new Aggregate();
    a.apply(hello);
    a.apply({ type: 'snapshot', seq: 0, t: 1000, ms: 500, exits: [{ pid: 1, tid: 2, isa: 2, reason: 0x78, n: 10 }], exitNs: [], faults: [], regions: [], handlers: [] });
    const [s] = a.history();
    if (!s) throw new Error('no history');
    expect([...intervalRates(s)]).toEqual([['2,120', 20]]);
    expect(intervalRates(s)).toBe(intervalRates(s));
    expect([...intervalRates(s, 1)]).toEqual([['2,120', 20]]);
    expect([...intervalRates(s, 5)]).toEqual([]);
  });
});
