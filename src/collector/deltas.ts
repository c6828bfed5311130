/**
 * Printed bpftrace maps -> per-interval deltas. Each copy of the maps holds
 * the counts since that copy was last cleared (src/probes/program.ts rotates
 * copies so that the kernel keeps only recent keys); the difference between
 * two prints of a copy is exact however many events arrived in between. When
 * a frame says a copy is cleared right after its print, its remembered values
 * go: its next print starts from nothing, and so does the memory here. So
 * this holds at most the keys of the copies in use (the active one and the one
 * it took over from), never those of VMs long gone. After a restart (a new
 * bpftrace) everything is forgotten.
 */
import type { SnapshotMessage } from '../protocol/messages.js';
import type { Bucket, CopyMaps, CountField, Frame, HistField } from './bpftrace-output.js';

type Deltas = Omit<SnapshotMessage, 'type' | 'seq' | 't' | 'ms' | 'final'>;

const COUNT_FIELDS: readonly CountField[] = ['exits', 'faults', 'regions', 'handlerCalls'];
const HIST_FIELDS: readonly HistField[] = ['exitNs', 'handlerNs'];
const NOTHING_COUNTED = new Map<string, never>();

function countDelta(cur: Map<string, number>, prev: Map<string, number>, add: (k: string, d: number) => void): void {
  for (const [k, v] of cur) {
    const p = prev.get(k) ?? 0;
    // a smaller value means the map restarted from zero: the new value is all new
    const d = v >= p ? v - p : v;
    if (d > 0) add(k, d);
  }
}

function histDelta(cur: Map<string, Bucket[]>, prev: Map<string, Bucket[]>, add: (k: string, low: number, d: number) => void): void {
  for (const [k, buckets] of cur) {
    const before = prev.get(k) ?? [];
    // both lists ascend by bucket (bpftrace prints them in order): walk them together
    let j = 0;
    for (const b of buckets) {
      while (j < before.length && (before[j] as Bucket).low < b.low) j++;
      const p = j < before.length && (before[j] as Bucket).low === b.low ? (before[j] as Bucket).count : 0;
      const n = b.count >= p ? b.count - p : b.count;
      if (n > 0) add(k, b.low, n);
    }
  }
}

/** One interval's deltas by printed key, summed over the copies printed (a key can be in two). */
class IntervalSums {
  readonly counts = { exits: new Map<string, number>(), faults: new Map<string, number>(), regions: new Map<string, number>(), handlerCalls: new Map<string, number>() };
  readonly hists = { exitNs: new Map<string, Map<number, number>>(), handlerNs: new Map<string, Map<number, number>>() };

  count(f: CountField, k: string, d: number): void {
    const m = this.counts[f];
    m.set(k, (m.get(k) ?? 0) + d);
  }

  bucket(f: HistField, k: string, low: number, d: number): void {
    const m = this.hists[f];
    let b = m.get(k);
    if (!b) m.set(k, (b = new Map()));
    b.set(low, (b.get(low) ?? 0) + d);
  }
}

/** Buckets as the stream has them: ascending by bucket. */
function bucketList(b: Map<number, number> | undefined): [number, number][] {
  if (!b) return [];
  const out = [...b];
  if (out.length > 1) out.sort((x, y) => x[0] - y[0]);
  return out;
}

const nums = (key: string): number[] => key.split(',').map(Number);
const SHIFT32 = 2 ** 32;

export class DeltaTracker {
  /** The values of each copy at its last print (copies cleared since are not here). */
  private readonly remembered = new Map<number, CopyMaps>();
  private lastTNs: number | undefined;
  /** Keys already split into numbers: the same keys come back every interval. */
  private readonly parsed = new Map<string, number[]>();
  private key(k: string): number[] {
    let v = this.parsed.get(k);
    if (v === undefined) this.parsed.set(k, (v = nums(k)));
    return v;
  }
  private startNs: number | undefined;

  /** Forget the baseline: the next frame comes from a new bpftrace. */
  reset(): void {
    this.remembered.clear();
    this.lastTNs = undefined;
    this.startNs = undefined;
  }

  /** When counting started (bpftrace's clock): the first interval is measured from here. */
  started(tNs: number): void {
    this.startNs = tNs;
  }

  /** bpftrace-clock ms since the previous frame, or since counting started. */
  intervalMs(frame: Frame): number {
    const from = this.lastTNs ?? this.startNs;
    return from === undefined ? 0 : Math.max(0, Math.round((frame.tNs - from) / 1e6));
  }

  /** Keys remembered now, over every copy and map (the collector's own memory for this stage). */
  rememberedKeys(): number {
    let n = 0;
    for (const c of this.remembered.values()) for (const f of [...COUNT_FIELDS, ...HIST_FIELDS]) n += c[f].size;
    return n;
  }

  apply(frame: Frame): Deltas {
    const sums = new IntervalSums();
    for (const [copy, cur] of frame.copies) {
      const prev = this.remembered.get(copy);
      // A map whose print was lost (bpftrace dropped the record), or that printed nothing, keeps
      // its previous values: no delta now, and the next print's delta covers both intervals.
      // Without this, the next print would count everything since the copy was cleared once more.
      for (const f of COUNT_FIELDS) {
        if (!cur.seen.has(f) && prev) cur[f] = prev[f];
        else countDelta(cur[f], prev?.[f] ?? NOTHING_COUNTED, (k, d) => sums.count(f, k, d));
      }
      for (const f of HIST_FIELDS) {
        if (!cur.seen.has(f) && prev) cur[f] = prev[f];
        else histDelta(cur[f], prev?.[f] ?? NOTHING_COUNTED, (k, low, d) => sums.bucket(f, k, low, d));
      }
      this.remembered.set(copy, cur);
    }
    // bpftrace clears that copy right after this print (END clears them all): it starts from nothing
    if (frame.cleared !== undefined) this.remembered.delete(frame.cleared);
    if (frame.final) this.remembered.clear();
    this.lastTNs = frame.tNs;

    const out: Deltas = {
      exits: [...sums.counts.exits].map(([k, n]) => {
        const [pid = 0, tid = 0, isa = 0, reason = 0] = this.key(k);
        return { pid, tid, isa, reason: reason >>> 0, n };
      }),
      exitNs: [...sums.hists.exitNs].map(([k, b]) => {
        const [pid = 0, why = 0] = this.key(k);
        return { pid, isa: Math.floor(why / SHIFT32), reason: why % SHIFT32, b: bucketList(b) };
      }),
      faults: [...sums.counts.faults].map(([k, n]) => {
        const [pid = 0, code = 0] = this.key(k);
        return { pid, code, n };
      }),
      regions: [...sums.counts.regions].map(([k, n]) => {
        const [pid = 0, region = 0] = this.key(k);
        return { pid, region, n };
      }),
      handlers: [...sums.counts.handlerCalls].map(([k, n]) => {
        const [pid = 0, h = 0] = this.key(k);
        return { pid, h, n, b: bucketList(sums.hists.handlerNs.get(k)) };
      }),
    };
    // bounded: keys of VMs long gone are dropped with the rest, then re-learnt as needed
    if (this.parsed.size > 2 * this.rememberedKeys() + 1024) this.parsed.clear();
    return out;
  }
}
