/**
 * Reads a map line of bpftrace's `-f json` output in the exact shapes our program prints, from its
 * bytes, without building a JSON object per line (at 1,000 VMs the lines are megabytes a second:
 * JSON.parse made an object per key and per histogram bucket). Shapes (bpftrace 0.17; whitespace
 * between tokens may vary):
 *
 *   {"type": "map", "data": {"@exits0": {"pid,tid,isa,reason": N, ...}}}
 *   {"type": "hist", "data": {"@exit_ns0": {"pid,why": [{"min": N, "max": N, "count": N}, ...], ...}}}
 *
 * Anything else (another order of fields, a float, a key that is not decimal numbers joined by
 * commas, buckets out of order, numbers past 2^53) is not read here: the scan says so (returns
 * false) and the caller reads the line with JSON.parse as before (snapshot-reader.ts). So what this
 * accepts, it reads exactly as JSON.parse would; what it does not, JSON.parse still does.
 */

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;
const SPACE = 0x20;
const ZERO = 0x30;
const NINE = 0x39;
/** Digits a number may have here: 15 keep every integer exact in a double (2^53 has 16). */
const MAX_DIGITS = 15;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** The head of a map line: its type, the map's name, and where its entries start. */
export interface MapLineHead {
  hist: boolean;
  name: string;
  /** Index just after the `{` that opens the map's entries. */
  body: number;
}

const TYPE = Buffer.from('"type"');
const DATA = Buffer.from('"data"');
const MAP = Buffer.from('"map"');
const HIST = Buffer.from('"hist"');

/**
 * Reads entries as they are scanned. The scanner is one object reused for every line: no closure
 * or result object per line.
 */
export class MapLineScanner {
  private b: Uint8Array = new Uint8Array(0);
  private i = 0;
  private end = 0;
  /** The key's numbers (at most `nums.length`), `arity` of them read. */
  readonly nums: number[] = [0, 0, 0, 0];
  arity = 0;
  /** Key of the entry being read, as bytes [keyStart, keyEnd) of the line. */
  keyStart = 0;
  keyEnd = 0;
  /** A histogram's buckets as read: lows and counts (count 0 left out, as bpftrace-output.ts's toBuckets). */
  lows: number[] = [];
  counts: number[] = [];
  bucketCount = 0;

  /** `{"type": "map"|"hist", "data": {"@NAME": {` at the start of b[0, end); undefined if not that. */
  head(b: Uint8Array, end: number): MapLineHead | undefined {
    this.b = b;
    this.end = end;
    this.i = 0;
    if (!this.byte(LBRACE) || !this.word(TYPE) || !this.byte(COLON)) return undefined;
    let hist: boolean;
    if (this.word(MAP)) hist = false;
    else if (this.word(HIST)) hist = true;
    else return undefined;
    if (!this.byte(COMMA) || !this.word(DATA) || !this.byte(COLON) || !this.byte(LBRACE) || !this.byte(QUOTE)) return undefined;
    const start = this.i;
    for (; this.i < end; this.i++) {
      const c = b[this.i] as number;
      if (c === QUOTE) break;
      // map names: @ letters digits underscore (nothing to unescape)
      if (!(c === 0x40 || c === 0x5f || (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) return undefined;
    }
    if (this.i >= end || this.i === start) return undefined;
    const name = Buffer.from(b.buffer, b.byteOffset + start, this.i - start).toString('latin1');
    this.i++;
    if (!this.byte(COLON) || !this.byte(LBRACE)) return undefined;
    return { hist, name, body: this.i };
  }

  /**
   * Scans a count map's entries from `body` to the end of the line, calling `entry` for each (its key's numbers in
   * `nums`, `arity` of them, the key's bytes at keyStart..keyEnd). False if the line is not in the expected shape:
   * entries already passed to `entry` must then be thrown away by the caller.
   */
  countEntries(body: number, entry: (value: number) => void): boolean {
    return this.members(body, () => {
      if (!this.key() || !this.byte(COLON)) return false;
      this.skip();
      const v = this.unsigned();
      if (v < 0) return false;
      entry(v);
      return true;
    });
  }

  /** As countEntries, for a histogram map: each key's buckets in lows/counts (bucketCount of them, ascending). */
  histEntries(body: number, entry: () => void): boolean {
    return this.members(body, () => {
      if (!this.key() || !this.byte(COLON) || !this.byte(LBRACKET)) return false;
      this.bucketCount = 0;
      this.skip();
      if (this.peek() === RBRACKET) this.i++;
      else
        for (;;) {
          if (!this.bucket()) return false;
          this.skip();
          const c = this.peek();
          this.i++;
          if (c === COMMA) continue;
          if (c === RBRACKET) break;
          return false;
        }
      entry();
      return true;
    });
  }

  /**
   * A map's object from `body` to the end of the line, `member` reading each entry from its key
   * (false: not in the expected shape); the separators, the closing brace and the line's tail here.
   */
  private members(body: number, member: () => boolean): boolean {
    this.i = body;
    this.skip();
    if (this.peek() === RBRACE) {
      this.i++;
      return this.tail();
    }
    for (;;) {
      if (!member()) return false;
      this.skip();
      const c = this.peek();
      this.i++;
      if (c === COMMA) continue;
      if (c === RBRACE) return this.tail();
      return false;
    }
  }

  /** `{"min": N, "max": N, "count": N}` in any order (min may be missing: low 0, as toBuckets). */
  private bucket(): boolean {
    // after a bucket's comma comes a space: without this skip, every bucket but a key's first missed
    // usualBucket (it wants `{` here) and took anyBucket's slower way
    this.skip();
    const start = this.i;
    const usual = this.usualBucket();
    if (usual !== undefined) return usual;
    this.i = start;
    return this.anyBucket();
  }

  /**
   * bpftrace 0.17's own spelling, byte for byte (most of a line's bytes are buckets: tens of
   * thousands a second at 1,000 VMs): read (true), or refused (false: out of order). Undefined if
   * spelt otherwise: anyBucket reads it from the same place.
   */
  private usualBucket(): boolean | undefined {
    const b = this.b;
    const end = this.end;
    let i = this.i;
    // the fixed bytes spelt out, not looped over: this runs for every bucket (a negative bound is anyBucket's)
    // `{"min": `
    if (i + 8 > end || b[i] !== LBRACE || b[i + 1] !== QUOTE || b[i + 2] !== 0x6d || b[i + 3] !== 0x69 || b[i + 4] !== 0x6e || b[i + 5] !== QUOTE || b[i + 6] !== COLON || b[i + 7] !== SPACE) return undefined;
    i = this.digits(i + 8);
    if (i < 0) return undefined;
    const low = this.value;
    // `, "max": `
    if (i + 9 > end || b[i] !== COMMA || b[i + 1] !== SPACE || b[i + 2] !== QUOTE || b[i + 3] !== 0x6d || b[i + 4] !== 0x61 || b[i + 5] !== 0x78 || b[i + 6] !== QUOTE || b[i + 7] !== COLON || b[i + 8] !== SPACE) return undefined;
    i = this.digits(i + 9);
    if (i < 0) return undefined;
    // `, "count": `
    if (i + 11 > end || b[i] !== COMMA || b[i + 1] !== SPACE || b[i + 2] !== QUOTE || b[i + 3] !== 0x63 || b[i + 4] !== 0x6f || b[i + 5] !== 0x75 || b[i + 6] !== 0x6e || b[i + 7] !== 0x74 || b[i + 8] !== QUOTE || b[i + 9] !== COLON || b[i + 10] !== SPACE) return undefined;
    i = this.digits(i + 11);
    if (i < 0 || i >= end || b[i] !== RBRACE) return undefined;
    this.i = i + 1;
    return this.add(low, this.value);
  }

  /** The number digits() read last. */
  private value = 0;

  /** unsigned() from index s without moving: the number into `value`, the index after its digits; -1 if none or too many. */
  private digits(s: number): number {
    const b = this.b;
    const end = this.end;
    let v = 0;
    let i = s;
    for (; i < end; i++) {
      const c = b[i] as number;
      if (c < ZERO || c > NINE) break;
      v = v * 10 + (c - ZERO);
    }
    if (i === s || i - s > MAX_DIGITS || (b[s] === ZERO && i - s > 1)) return -1;
    this.value = v;
    return i;
  }

  /** A bucket read: kept if it has a count, refused (false) if out of order. */
  private add(low: number, count: number): boolean {
    if (count === 0) return true;
    const n = this.bucketCount;
    // ascending, as bpftrace prints them (deltas rely on it; toBuckets sorts otherwise: leave that to it)
    if (n > 0 && (this.lows[n - 1] as number) >= low) return false;
    this.lows[n] = low;
    this.counts[n] = count;
    this.bucketCount = n + 1;
    return true;
  }

  private anyBucket(): boolean {
    if (!this.byte(LBRACE)) return false;
    let low = 0;
    let count = -1;
    this.skip();
    if (this.peek() === RBRACE) return false;
    for (;;) {
      if (!this.byte(QUOTE)) return false;
      const s = this.i;
      while (this.i < this.end && this.b[this.i] !== QUOTE) this.i++;
      const len = this.i - s;
      this.i++;
      const b = this.b;
      // which field: "min", "max", "count"
      const which = len === 3 && b[s] === 0x6d && b[s + 1] === 0x69 && b[s + 2] === 0x6e ? 1 : len === 3 && b[s] === 0x6d && b[s + 1] === 0x61 && b[s + 2] === 0x78 ? 2 : len === 5 && b[s] === 0x63 && b[s + 1] === 0x6f && b[s + 2] === 0x75 && b[s + 3] === 0x6e && b[s + 4] === 0x74 ? 3 : 0;
      if (which === 0 || !this.byte(COLON)) return false;
      this.skip();
      const negative = this.peek() === MINUS;
      if (negative) this.i++;
      const v = this.unsigned();
      if (v < 0) return false;
      if (which === 1) low = negative ? -v : v;
      else if (which === 3) {
        if (negative) return false; // counts are u64: let JSON.parse deal with anything else
        count = v;
      }
      this.skip();
      const c = this.peek();
      this.i++;
      if (c === COMMA) {
        this.skip();
        continue;
      }
      if (c === RBRACE) break;
      return false;
    }
    if (count < 0) return false; // toBuckets skips a bucket without a count; rare enough to leave to it
    return this.add(low, count);
  }

  /** `"N,N,...": ` up to 4 numbers; the key's bytes are kept. */
  private key(): boolean {
    this.skip();
    if (this.peek() !== QUOTE) return false;
    this.i++;
    this.keyStart = this.i;
    let k = 0;
    for (;;) {
      if (k === this.nums.length) return false;
      const v = this.unsigned();
      if (v < 0) return false;
      this.nums[k++] = v;
      const c = this.peek();
      this.i++;
      if (c === COMMA) continue;
      if (c === QUOTE) break;
      return false;
    }
    this.keyEnd = this.i - 1;
    this.arity = k;
    return true;
  }

  /** Decimal digits (at least one, at most MAX_DIGITS) as a number; -1 if none or too many. */
  private unsigned(): number {
    const b = this.b;
    const s = this.i;
    let v = 0;
    let i = s;
    for (; i < this.end; i++) {
      const c = b[i] as number;
      if (c < ZERO || c > NINE) break;
      v = v * 10 + (c - ZERO);
    }
    if (i === s || i - s > MAX_DIGITS) return -1;
    // JSON allows no leading zeros: "007" would not parse there, so not here either
    if (b[s] === ZERO && i - s > 1) return -1;
    this.i = i;
    return v;
  }

  /** After the entries' `}`: `}}` and nothing but whitespace. */
  private tail(): boolean {
    if (!this.byte(RBRACE) || !this.byte(RBRACE)) return false;
    this.skip();
    return this.i === this.end;
  }

  private peek(): number {
    return this.i < this.end ? (this.b[this.i] as number) : -1;
  }

  private skip(): void {
    while (this.i < this.end && isSpace(this.b[this.i] as number)) this.i++;
  }

  /** Skips whitespace, then one expected byte. */
  private byte(c: number): boolean {
    this.skip();
    if (this.peek() !== c) return false;
    this.i++;
    return true;
  }

  /** Skips whitespace, then the expected bytes. */
  private word(w: Uint8Array): boolean {
    this.skip();
    if (this.i + w.length > this.end) return false;
    for (let k = 0; k < w.length; k++) if (this.b[this.i + k] !== w[k]) return false;
    this.i += w.length;
    return true;
  }
}
