/**
 * A snapshot as the model's ring of recent intervals keeps it (src/model/aggregate.ts): its
 * entries packed into typed arrays. The ring holds 61 snapshots (60 s of history), each with an
 * exit entry per VM x vCPU x reason and a latency histogram per VM x reason. At 50 VMs x 8 vCPUs
 * x 12 reasons, as parsed, that was 61 x 4,800 entry objects plus 61 x 600 histograms of ~7
 * `[low, n]` arrays each: ~250,000 small arrays and ~40 MB of V8's traced heap (a heap snapshot
 * of the dashboard), for numbers read only when an interval enters or leaves a window and once for
 * the sparklines. Packed, an exit entry is 24 bytes and a bucket 16, outside the traced heap.
 *
 * Exit entries are four int32 and a double (counts exact to 2^53); a snapshot with an entry whose
 * numbers do not fit (pid, tid, isa not int32, reason not uint32: never from bpftrace, possible in
 * a hand-made recording) keeps its exit entries as parsed. Histograms are doubles throughout (any
 * safe integer). Faults and regions (a few per VM, no arrays) are kept as parsed. Immutable, like
 * the message it came from; iteration is in the message's order.
 */
import type { SnapshotMessage } from '../protocol/messages.js';

export interface RingSnapshot extends Pick<SnapshotMessage, 'seq' | 't' | 'ms' | 'faults' | 'regions'> {
  /** How many exit entries. */
  readonly exitEntries: number;
  /** Every exit entry. */
  forEachExit(f: (n: number, pid: number, tid: number, isa: number, reason: number) => void): void;
  /** Every exit-latency histogram (exitNs): its buckets are pairs[from], pairs[from + 1] (low, count), ... up to `to`. */
  forEachLatency(f: (pid: number, isa: number, reason: number, pairs: Float64Array, from: number, to: number) => void): void;
  /** Every handler entry: calls and its time's buckets, as forEachLatency's. */
  forEachHandler(f: (pid: number, h: number, n: number, pairs: Float64Array, from: number, to: number) => void): void;
}

type Exits = SnapshotMessage['exits'];
type Buckets = readonly (readonly [number, number])[];

const fits = (pid: number, tid: number, isa: number, reason: number): boolean => (pid | 0) === pid && (tid | 0) === tid && (isa | 0) === isa && reason >>> 0 === reason;

/** Histograms (three numbers each, then buckets) in flat arrays: keys, where each one's buckets end, the buckets. */
class PackedHists {
  readonly keys: Float64Array;
  readonly ends: Uint32Array;
  readonly pairs: Float64Array;

  constructor(list: readonly { b: Buckets }[], key: (x: never, i: 0 | 1 | 2) => number) {
    let buckets = 0;
    for (const x of list) buckets += x.b.length;
    this.keys = new Float64Array(list.length * 3);
    this.ends = new Uint32Array(list.length);
    this.pairs = new Float64Array(buckets * 2);
    let p = 0;
    list.forEach((x, i) => {
      this.keys[i * 3] = key(x as never, 0);
      this.keys[i * 3 + 1] = key(x as never, 1);
      this.keys[i * 3 + 2] = key(x as never, 2);
      for (const [low, n] of x.b) {
        this.pairs[p++] = low;
        this.pairs[p++] = n;
      }
      this.ends[i] = p;
    });
  }

  forEach(f: (a: number, b: number, c: number, pairs: Float64Array, from: number, to: number) => void): void {
    const k = this.keys;
    let from = 0;
    for (let i = 0; i < this.ends.length; i++) {
      const to = this.ends[i] as number;
      f(k[i * 3] as number, k[i * 3 + 1] as number, k[i * 3 + 2] as number, this.pairs, from, to);
      from = to;
    }
  }
}

class Snapshot implements RingSnapshot {
  readonly seq: number;
  readonly t: number;
  readonly ms: number;
  readonly faults: SnapshotMessage['faults'];
  readonly regions: SnapshotMessage['regions'];
  readonly exitEntries: number;
  /** Packed exits: pid, tid, isa, reason (as int32) four by four, and the counts; or the parsed list. */
  private readonly keys: Int32Array | undefined;
  private readonly counts: Float64Array | undefined;
  private readonly plainExits: Exits | undefined;
  private readonly latency: PackedHists;
  private readonly handlers: PackedHists;

  constructor(s: SnapshotMessage, packExits: boolean) {
    this.seq = s.seq;
    this.t = s.t;
    this.ms = s.ms;
    this.faults = s.faults;
    this.regions = s.regions;
    const n = s.exits.length;
    this.exitEntries = n;
    if (packExits) {
      this.keys = new Int32Array(n * 4);
      this.counts = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const e = s.exits[i] as Exits[number];
        this.keys[i * 4] = e.pid;
        this.keys[i * 4 + 1] = e.tid;
        this.keys[i * 4 + 2] = e.isa;
        this.keys[i * 4 + 3] = e.reason | 0;
        this.counts[i] = e.n;
      }
    } else this.plainExits = s.exits;
    this.latency = new PackedHists(s.exitNs, (e: SnapshotMessage['exitNs'][number], i) => (i === 0 ? e.pid : i === 1 ? e.isa : e.reason));
    this.handlers = new PackedHists(s.handlers, (e: SnapshotMessage['handlers'][number], i) => (i === 0 ? e.pid : i === 1 ? e.h : e.n));
  }

  forEachExit(f: (n: number, pid: number, tid: number, isa: number, reason: number) => void): void {
    const k = this.keys;
    const c = this.counts;
    if (!k || !c) {
      for (const e of this.plainExits ?? []) f(e.n, e.pid, e.tid, e.isa, e.reason);
      return;
    }
    for (let i = 0, j = 0; i < c.length; i++, j += 4) f(c[i] as number, k[j] as number, k[j + 1] as number, k[j + 2] as number, (k[j + 3] as number) >>> 0);
  }

  forEachLatency(f: (pid: number, isa: number, reason: number, pairs: Float64Array, from: number, to: number) => void): void {
    this.latency.forEach(f);
  }

  forEachHandler(f: (pid: number, h: number, n: number, pairs: Float64Array, from: number, to: number) => void): void {
    this.handlers.forEach(f);
  }
}

/** The ring's form of a snapshot (the message itself may then be dropped). */
export function packSnapshot(s: SnapshotMessage): RingSnapshot {
  let packable = true;
  for (const e of s.exits) if (!fits(e.pid, e.tid, e.isa, e.reason)) packable = false;
  return new Snapshot(s, packable);
}
