/**
 * bpftrace's `-f json` bytes -> per-interval deltas, in one pass: what BpftraceOutputParser
 * (bpftrace-output.ts) + DeltaTracker (deltas.ts) give, the same snapshots exactly, at a fraction
 * of the cost (docs/benchmarks.md section 6, part C). Those two stay the reference: unit tests feed
 * both the same bytes (test/unit/snapshot-reader.test.ts).
 *
 * Where the cost went, and what this does instead:
 * - Map lines are read from their bytes by MapLineScanner (no string per line, no JSON object per
 *   key and per histogram bucket). Each entry of a copy printed for the first time since it was
 *   cleared (the usual case: the active copy) is its delta as it stands, so it goes straight into
 *   the snapshot's lists: no Map of the printed values, no key strings.
 * - Each interval also prints the copy the epoch left, once more (src/probes/program.ts). Nothing
 *   writes to it any more, so that print is almost always byte for byte the one before: then there
 *   is nothing to count, and the line is compared, not read.
 * - Anything else (a copy printed again with new values, an epoch that waited, a line in a shape the
 *   scanner does not take, a map printed twice in a frame) goes the old way: JSON.parse into the
 *   frame's Maps (the inner BpftraceOutputParser does it) and countDelta/histDelta against the
 *   copy's last print. Markers, lost events, detail lines and bpftrace's text go to the inner parser
 *   as they are.
 */
import type { SnapshotMessage } from '../protocol/messages.js';
import { type Bucket, BpftraceOutputParser, type CopyMaps, type CountField, type Frame, MAP_NAMES, type MapField, type OutputEvent, toBuckets } from './bpftrace-output.js';
import { ClearedCopies, countDelta, type Deltas, histDelta, mergeCopies, nums, SHIFT32 } from './deltas.js';
import { MapLineScanner } from './map-line-scanner.js';
import { foldCounts, foldHists, KEY_ARITY } from './thread-keys.js';

type ExitEntry = SnapshotMessage['exits'][number];
type ExitNsEntry = SnapshotMessage['exitNs'][number];
type PidCountEntry = { pid: number; second: number; n: number };
type HandlerNsEntry = { pid: number; h: number; b: [number, number][] };
/** An entry of any map, in the shape its snapshot list wants (faults, regions, handler calls: pid, second number, n). */
type Entry = ExitEntry | ExitNsEntry | PidCountEntry | HandlerNsEntry;

const FIELDS: readonly MapField[] = ['exits', 'exitNs', 'faults', 'regions', 'handlerCalls', 'handlerNs'];
const HIST: Readonly<Record<MapField, boolean>> = { exits: false, exitNs: true, faults: false, regions: false, handlerCalls: false, handlerNs: true };
const NOTHING = new Map<string, never>();

/** A copy's map as last printed: its bytes (read on demand) or, after the old way, its Map. */
interface Printed {
  line?: Buffer;
  map?: Map<string, number> | Map<string, Bucket[]>;
  keys: number;
  /** Histogram buckets with a count (the fill check counts those: collector.ts largestMap). */
  buckets: number;
}
type CopyState = Partial<Record<MapField, Printed>>;

/** What a frame printed of one copy's map. */
type Print = { kind: 'same' } | { kind: 'fresh'; entries: Entry[]; printed: Printed } | { kind: 'parsed' };

export interface SnapshotFrame {
  final: boolean;
  tNs: number;
  active?: number;
  cleared?: number;
}

export type ReaderEvent =
  | Exclude<OutputEvent, { kind: 'frame' }>
  | {
      kind: 'snapshot';
      frame: SnapshotFrame;
      /** bpftrace-clock ms since the previous frame, or since counting started. */
      ms: number;
      deltas: Deltas;
      /** Entries in the fullest map printed (as collector.ts largestMap of the frame). */
      largestMap: number;
    };

export class SnapshotReader {
  private readonly inner = new BpftraceOutputParser();
  private readonly scanner = new MapLineScanner();
  private readonly gather = new FreshGather(this.scanner);
  /** The start of a line still waiting for its newline. */
  private pending = Buffer.allocUnsafe(64 * 1024);
  private pendingLength = 0;
  /** Each copy's maps at its last print (copies cleared since are not here). */
  private readonly remembered = new Map<number, CopyState>();
  private readonly cleared = new ClearedCopies();
  /** The frame being read (the inner parser's), what it printed by copy and field, copies in order of first print. */
  private frame: Frame | undefined;
  private prints = new Map<number, Partial<Record<MapField, Print>>>();
  private order: number[] = [];
  private lastTNs: number | undefined;
  private startNs: number | undefined;
  private out: (e: ReaderEvent) => void = () => undefined;
  private readonly fromInner = (e: OutputEvent): void => {
    if (e.kind === 'frame') this.finish(e.frame);
    else this.out(e);
  };

  /** Lines that were not JSON (the inner parser's count). */
  get textLines(): number {
    return this.inner.textLines;
  }

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

  /** Keys remembered now, over every copy and map (as DeltaTracker's). */
  rememberedKeys(): number {
    let n = 0;
    for (const c of this.remembered.values()) for (const f of FIELDS) n += c[f]?.keys ?? 0;
    return n;
  }

  push(chunk: Buffer | string, out: (e: ReaderEvent) => void): void {
    this.out = out;
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
      if (this.pendingLength > 0) {
        this.keep(data, start, nl);
        this.line(this.pending.subarray(0, this.pendingLength));
        this.pendingLength = 0;
      } else this.line(data.subarray(start, nl));
      start = nl + 1;
    }
    if (start < data.length) this.keep(data, start, data.length);
  }

  /** Flushes a last line without a newline (at exit). */
  end(out: (e: ReaderEvent) => void): void {
    this.out = out;
    if (this.pendingLength > 0) this.inner.line(this.pending.toString('utf8', 0, this.pendingLength), this.fromInner);
    this.pendingLength = 0;
  }

  private keep(data: Buffer, from: number, to: number): void {
    const need = this.pendingLength + (to - from);
    if (need > this.pending.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, 2 * this.pending.length));
      this.pending.copy(bigger, 0, 0, this.pendingLength);
      this.pending = bigger;
    }
    data.copy(this.pending, this.pendingLength, from, to);
    this.pendingLength = need;
  }

  private line(bytes: Buffer): void {
    const frame = this.inner.current;
    if (frame !== this.frame) {
      this.frame = frame;
      this.prints = new Map();
      this.order = [];
    }
    const head = frame && bytes[0] === 0x7b ? this.scanner.head(bytes, bytes.length) : undefined;
    const known = head ? MAP_NAMES.get(head.name) : undefined;
    if (!head || !known || known.hist !== head.hist) {
      this.parse(bytes);
      return;
    }
    const { field, copy } = known;
    let prints = this.prints.get(copy);
    if (!prints) {
      this.prints.set(copy, (prints = {}));
      this.order.push(copy);
    }
    const before = prints[field];
    if (before !== undefined) {
      // printed twice in one frame: both into the frame's Map, in order, as the old way did
      if (before.kind !== 'parsed') this.inner.line(this.bytesOf(copy, field, before).toString('utf8'), this.fromInner);
      prints[field] = { kind: 'parsed' };
      this.parse(bytes);
      return;
    }
    const prev = this.remembered.get(copy)?.[field];
    if (prev?.line !== undefined && prev.line.equals(bytes)) {
      prints[field] = { kind: 'same' };
      return;
    }
    if (prev === undefined) {
      const fresh = this.fresh(field, bytes, head.body);
      if (fresh) {
        prints[field] = fresh;
        return;
      }
    }
    prints[field] = { kind: 'parsed' };
    this.parse(bytes);
  }

  /** The old way for one line: the inner parser (JSON.parse, the frame's Maps, markers, events). */
  private parse(bytes: Buffer): void {
    const text = bytes.toString('utf8');
    const frame = this.inner.current;
    const tracked = frame !== undefined && frame === this.frame;
    const before = tracked ? seenIn(frame) : undefined;
    this.inner.line(text, this.fromInner);
    if (!tracked || this.inner.current !== frame) return;
    for (const [copy, maps] of frame.copies) {
      // copies in the order the frame first printed them, whichever way each line was read
      if (!this.order.includes(copy)) this.order.push(copy);
      FIELDS.forEach((f, i) => {
        if (!maps.seen.has(f) || before?.has(copy * 8 + i)) return;
        // a map now in the frame's Maps: from here on read the old way. If this frame printed it
        // before, read the fast way, both lines go into the Map in their order (the later wins).
        let prints = this.prints.get(copy);
        if (!prints) this.prints.set(copy, (prints = {}));
        const earlier = prints[f];
        if (earlier !== undefined && earlier.kind !== 'parsed') {
          maps[f].clear();
          this.inner.line(this.bytesOf(copy, f, earlier).toString('utf8'), this.fromInner);
          this.inner.line(text, this.fromInner);
        }
        prints[f] = { kind: 'parsed' };
      });
    }
  }

  /** The line a fast-read print came from. */
  private bytesOf(copy: number, f: MapField, p: Print): Buffer {
    return (p.kind === 'fresh' ? p.printed.line : this.remembered.get(copy)?.[f]?.line) as Buffer;
  }

  /** A copy's first print since it was cleared: every value is its delta. Undefined if the scanner does not take the line. */
  private fresh(field: MapField, bytes: Buffer, body: number): Print | undefined {
    const g = this.gather;
    g.start(field);
    const ok = HIST[field] ? this.scanner.histEntries(body, g.hist) : this.scanner.countEntries(body, g.count);
    if (!ok || g.odd) return undefined;
    const entries = g.entries;
    g.entries = [];
    return { kind: 'fresh', entries: g.threaded ? mergeEntries(field, entries) : entries, printed: { line: Buffer.from(bytes), keys: g.keys, buckets: g.buckets } };
  }

  /** The frame's end marker: deltas by copy, merged; the copies' memory moved on. */
  private finish(frame: Frame): void {
    if (frame !== this.frame) {
      this.prints = new Map();
      this.order = [];
    }
    const order = this.order;
    for (const c of frame.copies.keys()) if (!order.includes(c)) order.push(c);
    const lists: Record<MapField, Entry[][]> = { exits: [], exitNs: [], faults: [], regions: [], handlerCalls: [], handlerNs: [] };
    let largest = 0;
    for (const copy of order) {
      if (this.cleared.skipAtEnd(frame, copy)) {
        // adds nothing, but its print still counts toward the fill check (as largestMap of the frame)
        largest = Math.max(largest, this.printedSize(copy, frame.copies.get(copy)));
        continue;
      }
      this.cleared.printed(frame, copy);
      const prev = this.remembered.get(copy);
      const next: CopyState = { ...prev };
      const parsed = frame.copies.get(copy);
      const prints = this.prints.get(copy);
      for (const f of FIELDS) {
        const p = prints?.[f];
        if (parsed?.seen.has(f)) {
          const cur = parsed[f];
          lists[f].push(this.changed(f, cur, prev?.[f]));
          // the fill check and the memory count take the map as the kernel holds it (CopyMaps.raw)
          const raw = parsed.raw[f];
          next[f] = { map: cur, keys: raw?.keys ?? cur.size, buckets: HIST[f] ? (raw?.buckets ?? bucketsIn(cur as Map<string, Bucket[]>)) : 0 };
        } else if (p?.kind === 'fresh') {
          lists[f].push(p.entries);
          next[f] = p.printed;
        } else if (p?.kind === 'same') lists[f].push([]);
        const now = next[f];
        if (now) largest = Math.max(largest, HIST[f] ? now.buckets : now.keys);
      }
      this.remembered.set(copy, next);
    }
    // bpftrace clears that copy right after this print (END clears them all): it starts from nothing
    if (frame.cleared !== undefined) this.remembered.delete(frame.cleared);
    if (frame.final) this.remembered.clear();
    this.cleared.after(frame);
    // bpftrace-clock ms since the previous frame, or since counting started (as DeltaTracker.intervalMs)
    const from = this.lastTNs ?? this.startNs;
    const ms = from === undefined ? 0 : Math.max(0, Math.round((frame.tNs - from) / 1e6));
    this.lastTNs = frame.tNs;
    const info: SnapshotFrame = { final: frame.final, tNs: frame.tNs, ...(frame.active !== undefined ? { active: frame.active } : {}), ...(frame.cleared !== undefined ? { cleared: frame.cleared } : {}) };
    this.prints = new Map();
    this.order = [];
    this.frame = undefined;
    this.out({ kind: 'snapshot', frame: info, ms, deltas: deltasOf(lists), largestMap: largest });
  }

  /** The most entries (or histogram buckets) a copy's maps had in this frame's print. */
  private printedSize(copy: number, parsed: CopyMaps | undefined): number {
    let most = 0;
    for (const f of FIELDS) {
      const p = this.prints.get(copy)?.[f];
      if (parsed?.seen.has(f)) {
        const cur = parsed[f];
        const raw = parsed.raw[f];
        most = Math.max(most, HIST[f] ? (raw?.buckets ?? bucketsIn(cur as Map<string, Bucket[]>)) : (raw?.keys ?? cur.size));
      } else if (p?.kind === 'fresh') most = Math.max(most, HIST[f] ? p.printed.buckets : p.printed.keys);
    }
    return most;
  }

  /** The old way: a copy's Map against its last print (read from its bytes if need be), as entries. */
  private changed(f: MapField, cur: Map<string, number> | Map<string, Bucket[]>, prev: Printed | undefined): Entry[] {
    const before = prev ? mapOf(f, prev) : NOTHING;
    if (HIST[f]) {
      const out: [string, Bucket[]][] = [];
      histDelta(cur as Map<string, Bucket[]>, before as Map<string, Bucket[]>, out);
      return out.map(([k, b]) => histEntry(f, k, b));
    }
    const out: [string, number][] = [];
    countDelta(cur as Map<string, number>, before as Map<string, number>, out);
    return out.map(([k, n]) => countEntry(f, k, n));
  }
}

/** The (copy, field) pairs a frame's Maps hold, as copy * 8 + the field's index. */
function seenIn(frame: Frame): Set<number> {
  const out = new Set<number>();
  for (const [copy, maps] of frame.copies) FIELDS.forEach((f, i) => maps.seen.has(f) && out.add(copy * 8 + i));
  return out;
}

function bucketsIn(m: Map<string, Bucket[]>): number {
  let n = 0;
  for (const b of m.values()) n += b.length;
  return n;
}

/** A print kept as bytes, read into a Map as the old parser would (once). */
function mapOf(f: MapField, p: Printed): Map<string, number> | Map<string, Bucket[]> {
  if (p.map) return p.map;
  const data = (JSON.parse((p.line as Buffer).toString('utf8')) as { data: Record<string, Record<string, unknown>> }).data;
  const entries = Object.values(data)[0] ?? {};
  // keys by thread added up, as the old way reads them (thread-keys.ts)
  p.map = HIST[f] ? foldHists(f, Object.keys(entries).map((k): [string, Bucket[]] => [k, toBuckets(entries[k])])) : foldCounts(f, entries);
  return p.map;
}

function countEntry(f: MapField, k: string, n: number): Entry {
  const [pid = 0, a = 0, isa = 0, reason = 0] = nums(k);
  return f === 'exits' ? { pid, tid: a, isa, reason: reason >>> 0, n } : { pid, second: a, n };
}

function histEntry(f: MapField, k: string, b: Bucket[]): Entry {
  const [pid = 0, second = 0] = nums(k);
  const pairs = b.map((x): [number, number] => [x.low, x.count]);
  return f === 'exitNs' ? { pid, isa: Math.floor(second / SHIFT32), reason: second % SHIFT32, b: pairs } : { pid, h: second, b: pairs };
}

/** The key an entry had in bpftrace's map (the copies of one key are summed into one entry). */
function keyOf(f: MapField, e: Entry): string {
  if (f === 'exits') {
    const x = e as ExitEntry;
    return `${x.pid},${x.tid},${x.isa},${x.reason}`;
  }
  if (f === 'exitNs') {
    const x = e as ExitNsEntry;
    return `${x.pid},${x.isa * SHIFT32 + x.reason}`;
  }
  if (f === 'handlerNs') return `${e.pid},${(e as HandlerNsEntry).h}`;
  return `${e.pid},${(e as PidCountEntry).second}`;
}

/** Two ascending bucket lists summed. */
function addPairs(a: [number, number][], b: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x[0] < y[0])) (out.push(x as [number, number]), i++);
    else if (x === undefined || y[0] < x[0]) (out.push(y), j++);
    else (out.push([x[0], x[1] + y[1]]), i++, j++);
  }
  return out;
}

/** Two entries of one key summed: their counts, or their histograms' buckets. */
function addEntries(f: MapField): (a: Entry, b: Entry) => Entry {
  return HIST[f]
    ? (a, b) => ({ ...a, b: addPairs((a as ExitNsEntry).b, (b as ExitNsEntry).b) }) as Entry
    : (a, b) => ({ ...a, n: (a as PidCountEntry).n + (b as PidCountEntry).n }) as Entry;
}

/** One list per field: the usual frame has one copy with deltas (used as it is); else merged by key, as DeltaTracker. */
function merged(f: MapField, lists: Entry[][]): Entry[] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length <= 1) return nonEmpty[0] ?? [];
  return mergeCopies(
    nonEmpty.map((l) => l.map((e): [string, Entry] => [keyOf(f, e), e])),
    addEntries(f),
  ).map(([, e]) => e);
}

/** One print's entries with each key once: the threads of a key by thread added up (fresh()). */
function mergeEntries(f: MapField, entries: Entry[]): Entry[] {
  const add = addEntries(f);
  const byKey = new Map<string, Entry>();
  for (const e of entries) {
    const k = keyOf(f, e);
    const before = byKey.get(k);
    byKey.set(k, before === undefined ? e : add(before, e));
  }
  return [...byKey.values()];
}

function deltasOf(lists: Record<MapField, Entry[][]>): Deltas {
  const handlerNs = new Map<string, [number, number][]>();
  for (const e of merged('handlerNs', lists.handlerNs) as HandlerNsEntry[]) handlerNs.set(`${e.pid},${e.h}`, e.b);
  const pairs = (f: CountField, name: 'code' | 'region'): { pid: number; n: number }[] =>
    (merged(f, lists[f]) as PidCountEntry[]).map((e) => (name === 'code' ? { pid: e.pid, code: e.second, n: e.n } : { pid: e.pid, region: e.second, n: e.n }));
  return {
    exits: merged('exits', lists.exits) as ExitEntry[],
    exitNs: merged('exitNs', lists.exitNs) as ExitNsEntry[],
    faults: pairs('faults', 'code') as Deltas['faults'],
    regions: pairs('regions', 'region') as Deltas['regions'],
    handlers: (merged('handlerCalls', lists.handlerCalls) as PidCountEntry[]).map((e) => ({ pid: e.pid, h: e.second, n: e.n, b: handlerNs.get(`${e.pid},${e.second}`) ?? [] })),
  };
}


/**
 * What SnapshotReader.fresh() takes from one print, entry by entry as the scanner calls back. One
 * per reader, its two callbacks made once: callbacks made anew for each print were optimized anew
 * by V8 each interval (docs/benchmarks.md section 6).
 */
class FreshGather {
  field: MapField = 'exits';
  private arity = 2;
  entries: Entry[] = [];
  keys = 0;
  buckets = 0;
  /**
   * A key with another count of numbers: the old way gives the missing ones their defaults. One
   * more than the map's own ([pid, tid, x]) is a key by thread (dialect.ts threadKeys): the threads
   * are added up by fresh() (thread-keys.ts), as the old way does.
   */
  odd = false;
  threaded = false;

  constructor(private readonly s: MapLineScanner) {}

  start(field: MapField): void {
    this.field = field;
    this.arity = KEY_ARITY[field];
    this.entries = [];
    this.keys = this.buckets = 0;
    this.odd = this.threaded = false;
  }

  private shape(n: number): void {
    if (n === this.arity) return;
    if (n === this.arity + 1 && this.arity === 2) this.threaded = true;
    else this.odd = true;
  }

  readonly hist = (): void => {
    const s = this.s;
    this.keys++;
    this.shape(s.arity);
    const n = s.bucketCount;
    this.buckets += n;
    if (n === 0) return;
    const b: [number, number][] = new Array(n);
    for (let k = 0; k < n; k++) b[k] = [s.lows[k] as number, s.counts[k] as number];
    const pid = s.nums[0] as number;
    const second = s.nums[s.arity - 1] as number;
    this.entries.push(this.field === 'exitNs' ? { pid, isa: Math.floor(second / SHIFT32), reason: second % SHIFT32, b } : { pid, h: second, b });
  };

  readonly count = (v: number): void => {
    const s = this.s;
    this.keys++;
    this.shape(s.arity);
    if (v === 0) return;
    if (this.field === 'exits') {
      const [pid, tid, isa, reason] = s.nums as [number, number, number, number];
      this.entries.push({ pid, tid, isa, reason: reason >>> 0, n: v });
    } else this.entries.push({ pid: s.nums[0] as number, second: s.nums[s.arity - 1] as number, n: v });
  };
}
