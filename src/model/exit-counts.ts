/**
 * The exit counts of a Totals: one entry per VM process x thread x ISA x exit reason, a million
 * on a big host. As a Map<string, number> keyed 'pid,tid,isa,reason' that took ~120 bytes an entry
 * (a key string and a hash entry, all on V8's heap and traced by every GC): 1 million keys were
 * ~120 MB of the model. This keeps the four numbers and the count in typed arrays (24 bytes an
 * entry and 8 of hash slots, outside the traced heap), with the API and the insertion order of
 * that Map, so every reader of Totals works unchanged; the model and the report use the numeric
 * methods (add, forEachExit) and make no key strings at all.
 *
 * Counts are doubles as before (exact to 2^53). Keys whose numbers do not fit (pid, tid, isa not
 * int32, reason not uint32: never from bpftrace, possible in a hand-made recording) or strings
 * not in the canonical form are kept in a plain Map beside, so every key and count stays exact;
 * those iterate after the others.
 */

const FIRST_CAPACITY = 64;

/** Int32 for pid, tid, isa; uint32 for the reason. */
const fits = (pid: number, tid: number, isa: number, reason: number): boolean => (pid | 0) === pid && (tid | 0) === tid && (isa | 0) === isa && reason >>> 0 === reason;

function hash4(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15) ^ b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 13) ^ c, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16) ^ d, 0xc2b2ae35);
  return (h ^ (h >>> 15)) >>> 0;
}

export const exitKey = (pid: number, tid: number, isa: number, reason: number): string => `${pid},${tid},${isa},${reason}`;

/** The numbers of a canonical key ('12,-3,2,120': integers as String(n) writes them) into `out`. */
function parseKey(k: string, out: number[]): boolean {
  let part = 0;
  let p = 0;
  while (part < 4) {
    let neg = false;
    if (k.charCodeAt(p) === 45) {
      neg = true;
      p++;
    }
    const digits = p;
    let v = 0;
    for (; p < k.length; p++) {
      const c = k.charCodeAt(p);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
    }
    const len = p - digits;
    // no digits, a leading zero, -0, or too long for 32 bits: not canonical here
    if (len === 0 || len > 10 || (len > 1 && k.charCodeAt(digits) === 48) || (neg && v === 0)) return false;
    out[part++] = neg ? -v : v;
    if (part < 4) {
      if (k.charCodeAt(p) !== 44) return false;
      p++;
    } else if (p !== k.length) return false;
  }
  return fits(out[0] as number, out[1] as number, out[2] as number, out[3] as number);
}

export class ExitCounts implements Map<string, number> {
  private pids = new Int32Array(FIRST_CAPACITY);
  private tids = new Int32Array(FIRST_CAPACITY);
  private isas = new Int32Array(FIRST_CAPACITY);
  private reasons = new Uint32Array(FIRST_CAPACITY);
  private counts = new Float64Array(FIRST_CAPACITY);
  private live = new Uint8Array(FIRST_CAPACITY);
  /** Open addressing, linear probing: entry index + 1, 0 empty; twice the entries (load <= 0.5). */
  private slots = new Int32Array(FIRST_CAPACITY * 2);
  /** Entries appended so far (live or deleted: a deleted one keeps its slot until the next rebuild). */
  private used = 0;
  private liveCount = 0;
  /** Where find() stopped without a match: the empty slot a new key goes to. */
  private freeSlot = 0;
  private readonly other = new Map<string, number>();
  private readonly nums = [0, 0, 0, 0];

  readonly [Symbol.toStringTag] = 'ExitCounts';

  get size(): number {
    return this.liveCount + this.other.size;
  }

  // --- the numeric API: no strings made

  /** The count of a key, or undefined. */
  getOf(pid: number, tid: number, isa: number, reason: number): number | undefined {
    if (!fits(pid, tid, isa, reason)) return this.other.get(exitKey(pid, tid, isa, reason));
    const e = this.find(pid, tid, isa, reason);
    return e < 0 ? undefined : this.counts[e];
  }

  /** Adds n to a key's count (a new key starts at 0). */
  add(pid: number, tid: number, isa: number, reason: number, n: number): void {
    if (!fits(pid, tid, isa, reason)) {
      const k = exitKey(pid, tid, isa, reason);
      this.other.set(k, (this.other.get(k) ?? 0) + n);
      return;
    }
    const e = this.find(pid, tid, isa, reason);
    if (e >= 0) this.counts[e] = (this.counts[e] as number) + n;
    else this.append(pid, tid, isa, reason, n);
  }

  setOf(pid: number, tid: number, isa: number, reason: number, n: number): void {
    if (!fits(pid, tid, isa, reason)) {
      this.other.set(exitKey(pid, tid, isa, reason), n);
      return;
    }
    const e = this.find(pid, tid, isa, reason);
    if (e >= 0) this.counts[e] = n;
    else this.append(pid, tid, isa, reason, n);
  }

  deleteOf(pid: number, tid: number, isa: number, reason: number): boolean {
    if (!fits(pid, tid, isa, reason)) return this.other.delete(exitKey(pid, tid, isa, reason));
    const e = this.find(pid, tid, isa, reason);
    if (e < 0) return false;
    this.live[e] = 0;
    this.liveCount--;
    return true;
  }

  /** Every entry in insertion order, as numbers (the keys kept beside come last, parsed). */
  forEachExit(f: (n: number, pid: number, tid: number, isa: number, reason: number) => void): void {
    const used = this.used;
    for (let e = 0; e < used; e++) if (this.live[e]) f(this.counts[e] as number, this.pids[e] as number, this.tids[e] as number, this.isas[e] as number, this.reasons[e] as number);
    for (const [k, n] of this.other) {
      const [pid = 0, tid = 0, isa = 0, reason = 0] = k.split(',').map(Number);
      f(n, pid, tid, isa, reason);
    }
  }

  // --- Map<string, number>

  get(k: string): number | undefined {
    const x = this.nums;
    if (!parseKey(k, x)) return this.other.get(k);
    return this.getOf(x[0] as number, x[1] as number, x[2] as number, x[3] as number);
  }

  has(k: string): boolean {
    return this.get(k) !== undefined;
  }

  set(k: string, n: number): this {
    const x = this.nums;
    if (parseKey(k, x)) this.setOf(x[0] as number, x[1] as number, x[2] as number, x[3] as number, n);
    else this.other.set(k, n);
    return this;
  }

  delete(k: string): boolean {
    const x = this.nums;
    if (!parseKey(k, x)) return this.other.delete(k);
    return this.deleteOf(x[0] as number, x[1] as number, x[2] as number, x[3] as number);
  }

  clear(): void {
    this.used = this.liveCount = 0;
    this.live.fill(0);
    this.slots.fill(0);
    this.other.clear();
  }

  forEach(f: (n: number, k: string, map: Map<string, number>) => void, thisArg?: unknown): void {
    for (const [k, n] of this.entries()) f.call(thisArg, n, k, this);
  }

  *entries(): MapIterator<[string, number]> {
    // deleting during the iteration is fine and entries appended are visited, as in a Map; a key
    // added when the table is full rebuilds it, which may skip or repeat entries (no reader does)
    for (let e = 0; e < this.used; e++) if (this.live[e]) yield [exitKey(this.pids[e] as number, this.tids[e] as number, this.isas[e] as number, this.reasons[e] as number), this.counts[e] as number];
    yield* this.other.entries();
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<number> {
    for (const [, n] of this.entries()) yield n;
  }

  [Symbol.iterator](): MapIterator<[string, number]> {
    return this.entries();
  }

  // --- the table

  private find(pid: number, tid: number, isa: number, reason: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let s = hash4(pid, tid, isa, reason) & mask; ; s = (s + 1) & mask) {
      const e = (slots[s] as number) - 1;
      if (e < 0) {
        this.freeSlot = s;
        return -1;
      }
      if (this.live[e] && this.pids[e] === pid && this.tids[e] === tid && this.isas[e] === isa && this.reasons[e] === reason) return e;
    }
  }

  private append(pid: number, tid: number, isa: number, reason: number, n: number): void {
    if (this.used === this.pids.length) {
      this.rebuild();
      this.find(pid, tid, isa, reason); // the free slot in the new table
    }
    const e = this.used++;
    this.pids[e] = pid;
    this.tids[e] = tid;
    this.isas[e] = isa;
    this.reasons[e] = reason;
    this.counts[e] = n;
    this.live[e] = 1;
    this.liveCount++;
    this.slots[this.freeSlot] = e + 1;
  }

  /** Full: drops deleted entries (order kept) and grows when more than half are live. */
  private rebuild(): void {
    const capacity = this.liveCount * 2 > this.pids.length ? this.pids.length * 2 : this.pids.length;
    const grow = <T extends Int32Array | Uint32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      let to = 0;
      for (let e = 0; e < this.used; e++) if (this.live[e]) b[to++] = a[e] as number;
      return b;
    };
    this.pids = grow(this.pids, (c) => new Int32Array(c));
    this.tids = grow(this.tids, (c) => new Int32Array(c));
    this.isas = grow(this.isas, (c) => new Int32Array(c));
    this.reasons = grow(this.reasons, (c) => new Uint32Array(c));
    this.counts = grow(this.counts, (c) => new Float64Array(c));
    this.live = new Uint8Array(capacity).fill(1, 0, this.liveCount);
    this.used = this.liveCount;
    this.slots = new Int32Array(capacity * 2);
    const mask = this.slots.length - 1;
    for (let e = 0; e < this.used; e++) {
      let s = hash4(this.pids[e] as number, this.tids[e] as number, this.isas[e] as number, this.reasons[e] as number) & mask;
      while (this.slots[s] !== 0) s = (s + 1) & mask;
      this.slots[s] = e + 1;
    }
  }
}
