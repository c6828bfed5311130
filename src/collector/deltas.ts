/**
 * Cumulative bpftrace maps -> per-interval deltas. bpftrace prints totals since
 * it started; the difference between two prints is exact however many events
 * arrived in between. After a restart (a new bpftrace) the baseline is reset.
 */
import type { SnapshotMessage } from '../protocol/messages.js';
import type { Bucket, Frame } from './bpftrace-output.js';

type Deltas = Omit<SnapshotMessage, 'type' | 'seq' | 't' | 'ms' | 'final'>;

function countDelta(cur: Map<string, number>, prev: Map<string, number>): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, v] of cur) {
    const p = prev.get(k) ?? 0;
    // a smaller value means the map restarted from zero: the new value is all new
    const d = v >= p ? v - p : v;
    if (d > 0) out.push([k, d]);
  }
  return out;
}

function histDelta(cur: Map<string, Bucket[]>, prev: Map<string, Bucket[]>): [string, Bucket[]][] {
  const out: [string, Bucket[]][] = [];
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
  return out;
}

const MAP_FIELDS = ['exits', 'exitNs', 'faults', 'regions', 'handlerCalls', 'handlerNs'] as const;

const nums = (key: string): number[] => key.split(',').map(Number);
const SHIFT32 = 2 ** 32;

export class DeltaTracker {
  private prev: Frame | undefined;
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
    this.prev = undefined;
    this.startNs = undefined;
  }

  /** When counting started (bpftrace's clock): the first interval is measured from here. */
  started(tNs: number): void {
    this.startNs = tNs;
  }

  /** bpftrace-clock ms since the previous frame, or since counting started. */
  intervalMs(frame: Frame): number {
    const from = this.prev?.tNs ?? this.startNs;
    return from === undefined ? 0 : Math.max(0, Math.round((frame.tNs - from) / 1e6));
  }

  apply(frame: Frame): Deltas {
    // A map whose print was lost (bpftrace dropped the record) keeps its previous totals:
    // no delta now, and the next frame's delta covers both intervals. Without this, the
    // next frame would count everything since bpftrace started once more.
    if (this.prev && frame.seen) for (const f of MAP_FIELDS) if (!frame.seen.has(f)) (frame as unknown as Record<string, unknown>)[f] = this.prev[f];
    const prev: Frame = this.prev ?? { final: false, tNs: frame.tNs, exits: new Map(), exitNs: new Map(), faults: new Map(), regions: new Map(), handlerCalls: new Map(), handlerNs: new Map() };
    const out: Deltas = {
      exits: countDelta(frame.exits, prev.exits).map(([k, n]) => {
        const [pid = 0, tid = 0, isa = 0, reason = 0] = this.key(k);
        return { pid, tid, isa, reason: reason >>> 0, n };
      }),
      exitNs: histDelta(frame.exitNs, prev.exitNs).map(([k, b]) => {
        const [pid = 0, why = 0] = this.key(k);
        return { pid, isa: Math.floor(why / SHIFT32), reason: why % SHIFT32, b: b.map((x): [number, number] => [x.low, x.count]) };
      }),
      faults: countDelta(frame.faults, prev.faults).map(([k, n]) => {
        const [pid = 0, code = 0] = this.key(k);
        return { pid, code, n };
      }),
      regions: countDelta(frame.regions, prev.regions).map(([k, n]) => {
        const [pid = 0, region = 0] = this.key(k);
        return { pid, region, n };
      }),
      handlers: (() => {
        const calls = new Map(countDelta(frame.handlerCalls, prev.handlerCalls));
        const ns = new Map(histDelta(frame.handlerNs, prev.handlerNs));
        return [...calls].map(([k, n]) => {
          const [pid = 0, h = 0] = this.key(k);
          return { pid, h, n, b: (ns.get(k) ?? []).map((x): [number, number] => [x.low, x.count]) };
        });
      })(),
    };
    this.prev = frame;
    // bounded: keys of VMs long gone are dropped with the rest, then re-learnt as needed
    const live = frame.exits.size + frame.exitNs.size + frame.faults.size + frame.regions.size + frame.handlerCalls.size;
    if (this.parsed.size > 2 * live + 1024) this.parsed.clear();
    return out;
  }
}
