/**
 * Snapshots summed into one: the counts in a snapshot are deltas, so several
 * intervals merge exactly by adding them. A client that joins late gets the
 * totals so far as one merged snapshot; a client that falls behind gets what
 * it missed as one merged snapshot when it catches up. Memory is bounded by
 * the number of keys, never by how many snapshots were merged.
 */
import { addSnapshot, emptyTotals, foldTotals, type Totals } from '../model/aggregate.js';
import type { SnapshotMessage } from '../protocol/messages.js';

const nums = (k: string): number[] => k.split(',').map(Number);
const buckets = (h: Map<number, number>): [number, number][] => [...h.entries()].sort((a, b) => a[0] - b[0]);

export function snapshotOfTotals(t: Totals, meta: { seq: number; t: number; merged: number; final?: boolean }): SnapshotMessage {
  return {
    type: 'snapshot',
    seq: meta.seq,
    t: meta.t,
    ms: t.ms,
    ...(meta.final ? { final: true } : {}),
    merged: meta.merged,
    exits: [...t.exits].map(([k, n]) => {
      const [pid = 0, tid = 0, isa = 0, reason = 0] = nums(k);
      return { pid, tid, isa, reason, n };
    }),
    exitNs: [...t.exitNs].map(([k, h]) => {
      const [pid = 0, isa = 0, reason = 0] = nums(k);
      return { pid, isa, reason, b: buckets(h) };
    }),
    faults: [...t.faults].map(([k, n]) => {
      const [pid = 0, code = 0] = nums(k);
      return { pid, code, n };
    }),
    regions: [...t.regions].map(([k, n]) => {
      const [pid = 0, region = 0] = nums(k);
      return { pid, region, n };
    }),
    handlers: [...t.handlerCalls].map(([k, n]) => {
      const [pid = 0, h = 0] = nums(k);
      return { pid, h, n, b: buckets(t.handlerNs.get(k) ?? new Map()) };
    }),
  };
}

/** Adds snapshots up; take() returns their sum as one snapshot (numbered as the last one) and starts over. */
export class SnapshotMerger {
  private totals = emptyTotals();
  private last: SnapshotMessage | undefined;
  /** Some pids' entries were moved to FOLDED_PID: the last snapshot alone no longer says the sum. */
  private folded = false;
  count = 0;

  /** Sums these pids' entries into FOLDED_PID's (gone VMs a long-running server no longer names). */
  fold(pids: ReadonlySet<number>): void {
    if (pids.size === 0) return;
    foldTotals(this.totals, pids);
    this.folded = true;
  }

  add(s: SnapshotMessage): void {
    addSnapshot(this.totals, s);
    this.count += s.merged ?? 1;
    this.last = s;
  }

  /** The sum so far, without starting over. */
  peek(): SnapshotMessage | undefined {
    const last = this.last;
    if (!last) return undefined;
    return this.count === 1 && !this.folded ? last : snapshotOfTotals(this.totals, { seq: last.seq, t: last.t, merged: this.count, ...(last.final ? { final: true } : {}) });
  }

  take(): SnapshotMessage | undefined {
    const out = this.peek();
    this.totals = emptyTotals();
    this.last = undefined;
    this.count = 0;
    this.folded = false;
    return out;
  }
}
