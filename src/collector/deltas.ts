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

export type Deltas = Omit<SnapshotMessage, 'type' | 'seq' | 't' | 'ms' | 'final'>;

const COUNT_FIELDS: readonly CountField[] = ['exits', 'faults', 'regions', 'handlerCalls'];
const HIST_FIELDS: readonly HistField[] = ['exitNs', 'handlerNs'];
const NOTHING_COUNTED = new Map<string, never>();

export function countDelta(cur: Map<string, number>, prev: Map<string, number>, out: [string, number][]): void {
  for (const [k, v] of cur) {
    const p = prev.get(k) ?? 0;
    // a smaller value means the map restarted from zero: the new value is all new
    const d = v >= p ? v - p : v;
    if (d > 0) out.push([k, d]);
  }
}

export function histDelta(cur: Map<string, Bucket[]>, prev: Map<string, Bucket[]>, out: [string, Bucket[]][]): void {
  for (const [k, buckets] of cur) {
    const before = prev.get(k) ?? [];
    const d: Bucket[] = [];
    // both lists ascend by bucket (bpftrace prints them in order): walk them together
    let j = 0;
    for (const b of buckets) {
      while (j < before.length && (before[j] as Bucket).low < b.low) j++;
      const p = j < before.length && (before[j] as Bucket).low === b.low ? (before[j] as Bucket).count : 0;
      const n = b.count >= p ? b.count - p : b.count;
      if (n > 0) d.push({ low: b.low, count: n });
    }
    if (d.length) out.push([k, d]);
  }
}

/** Two ascending bucket lists summed (a key in two copies, or in two threads: thread-keys.ts). */
export function addBuckets(a: Bucket[], b: Bucket[]): Bucket[] {
  const out: Bucket[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x.low < y.low)) (out.push(x as Bucket), i++);
    else if (x === undefined || y.low < x.low) (out.push(y), j++);
    else (out.push({ low: x.low, count: x.count + y.count }), i++, j++);
  }
  return out;
}

/**
 * One list of deltas per copy printed, as one list with each key once. In a frame the active copy
 * has most deltas and the copy it left only what came in after its previous print (often nothing):
 * the small lists are looked up while walking the big one, so the usual frame costs no extra map.
 */
export function mergeCopies<V>(lists: [string, V][][], add: (a: V, b: V) => V): [string, V][] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length <= 1) return nonEmpty[0] ?? [];
  nonEmpty.sort((a, b) => b.length - a.length);
  const [big, ...small] = nonEmpty as [[string, V][], ...[string, V][][]];
  const extra = new Map<string, V>();
  for (const l of small) for (const [k, v] of l) extra.set(k, extra.has(k) ? add(extra.get(k) as V, v) : v);
  const out = big.map(([k, v]): [string, V] => {
    const e = extra.get(k);
    if (e === undefined) return [k, v];
    extra.delete(k);
    return [k, add(v, e)];
  });
  for (const kv of extra) out.push(kv);
  return out;
}

/**
 * The copies a frame said it cleared right after their print, with that frame's time, until an
 * interval prints them again (the epoch re-entered them: their clear was done). Both readers keep
 * one, for skipAtEnd().
 */
export class ClearedCopies {
  private readonly at = new Map<number, number>();

  /** A copy this frame printed. */
  printed(frame: Frame, copy: number): void {
    if (!frame.final) this.at.delete(copy);
  }

  /** After the frame: the copy it clears; END clears them all. */
  after(frame: Frame): void {
    if (frame.cleared !== undefined) this.at.set(frame.cleared, frame.tNs);
    if (frame.final) this.at.clear();
  }

  clear(): void {
    this.at.clear();
  }

  /**
   * A copy the final frame prints that adds nothing: we read its last print and that frame's word
   * that it was then cleared, but END says that very clear (the same frame's time) was never done:
   * bpftrace drops what it has not yet read of an interval's events when SIGINT comes. Nothing writes
   * to a copy the epoch has left, so each of its maps is as printed then (counted) or empty
   * (cleared): nothing in it is new. Without this it counted as new: a stop at the wrong moment
   * counted an interval twice. A clear queued by a frame we have not read (still in bpftrace's
   * buffer) has another time: that copy counts against its last print as usual.
   */
  skipAtEnd(frame: Frame, copy: number): boolean {
    if (!frame.final || frame.uncleared === undefined) return false;
    const queuedAt = frame.uncleared.get(copy);
    return queuedAt !== undefined && queuedAt === this.at.get(copy);
  }
}

export const nums = (key: string): number[] => key.split(',').map(Number);
export const SHIFT32 = 2 ** 32;

export class DeltaTracker {
  /** The values of each copy at its last print (copies cleared since are not here). */
  private readonly remembered = new Map<number, CopyMaps>();
  private readonly cleared = new ClearedCopies();
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
    this.cleared.clear();
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
    for (const c of this.remembered.values()) for (const f of [...COUNT_FIELDS, ...HIST_FIELDS]) n += c.raw[f]?.keys ?? c[f].size;
    return n;
  }

  apply(frame: Frame): Deltas {
    const counts = { exits: [] as [string, number][][], faults: [] as [string, number][][], regions: [] as [string, number][][], handlerCalls: [] as [string, number][][] };
    const hists = { exitNs: [] as [string, Bucket[]][][], handlerNs: [] as [string, Bucket[]][][] };
    for (const [copy, cur] of frame.copies) {
      if (this.cleared.skipAtEnd(frame, copy)) continue;
      this.cleared.printed(frame, copy);
      const prev = this.remembered.get(copy);
      // A map whose print was lost (bpftrace dropped the record), or that printed nothing, keeps
      // its previous values: no delta now, and the next print's delta covers both intervals.
      // Without this, the next print would count everything since the copy was cleared once more.
      for (const f of COUNT_FIELDS) {
        if (!cur.seen.has(f) && prev) (cur[f] = prev[f]), (cur.raw[f] = prev.raw[f]);
        else {
          const out: [string, number][] = [];
          countDelta(cur[f], prev?.[f] ?? NOTHING_COUNTED, out);
          counts[f].push(out);
        }
      }
      for (const f of HIST_FIELDS) {
        if (!cur.seen.has(f) && prev) (cur[f] = prev[f]), (cur.raw[f] = prev.raw[f]);
        else {
          const out: [string, Bucket[]][] = [];
          histDelta(cur[f], prev?.[f] ?? NOTHING_COUNTED, out);
          hists[f].push(out);
        }
      }
      this.remembered.set(copy, cur);
    }
    // bpftrace clears that copy right after this print (END clears them all): it starts from nothing
    if (frame.cleared !== undefined) this.remembered.delete(frame.cleared);
    if (frame.final) this.remembered.clear();
    this.cleared.after(frame);
    this.lastTNs = frame.tNs;

    const sum = (a: number, b: number): number => a + b;
    const pairs = (b: Bucket[]): [number, number][] => b.map((x): [number, number] => [x.low, x.count]);
    const handlerNs = new Map(mergeCopies(hists.handlerNs, addBuckets));
    const out: Deltas = {
      exits: mergeCopies(counts.exits, sum).map(([k, n]) => {
        const [pid = 0, tid = 0, isa = 0, reason = 0] = this.key(k);
        return { pid, tid, isa, reason: reason >>> 0, n };
      }),
      exitNs: mergeCopies(hists.exitNs, addBuckets).map(([k, b]) => {
        const [pid = 0, why = 0] = this.key(k);
        return { pid, isa: Math.floor(why / SHIFT32), reason: why % SHIFT32, b: pairs(b) };
      }),
      faults: mergeCopies(counts.faults, sum).map(([k, n]) => {
        const [pid = 0, code = 0] = this.key(k);
        return { pid, code, n };
      }),
      regions: mergeCopies(counts.regions, sum).map(([k, n]) => {
        const [pid = 0, region = 0] = this.key(k);
        return { pid, region, n };
      }),
      handlers: mergeCopies(counts.handlerCalls, sum).map(([k, n]) => {
        const [pid = 0, h = 0] = this.key(k);
        return { pid, h, n, b: pairs(handlerNs.get(k) ?? []) };
      }),
    };
    // bounded: keys of VMs long gone are dropped with the rest, then re-learnt as needed
    if (this.parsed.size > 2 * this.rememberedKeys() + 1024) this.parsed.clear();
    return out;
  }
}
