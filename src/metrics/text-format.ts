/**
 * The text of our families, byte for byte what prom-client's Registry.metrics() writes for them
 * (test/unit/metrics-exposition.test.ts compares the two), only cheaper:
 * - families hand their lines to a sink with label objects they keep from scrape to scrape; each
 *   line's `name{labels} ` is escaped and encoded once, and writing a line is a copy of it and its
 *   value into a buffer reused between scrapes (prom-client formats every line's labels anew and
 *   wants an object per line: at 1,000 VMs x 12 reasons some 150,000 lines a scrape, mostly garbage);
 * - the lines of one series (a VM's reason, its histogram, its fault kinds) are announced as such
 *   (`series`) with what their text depends on: the count of stream entries added to the series
 *   and the family's shape (the `le` ladder). Where the series' text is in the last body is kept,
 *   and a scrape copies it from there (adjacent series that did not move, in one copy) unless the
 *   series moved since; one that moved is written again, its line prefixes kept with it in line
 *   order (no lookup by name and labels).
 * Memory: the last body (the next scrape reads it) and every series' line prefixes: at 1,000 VMs
 * 20 to 30 MiB more RSS than before this was kept (docs/benchmarks.md section 6).
 */

export type Labels = Readonly<Record<string, string>>;

/** Where a series keeps its text between scrapes (a model object's `rendered` slot: model.ts). */
export interface SeriesHolder {
  rendered?: unknown;
}

/**
 * Where a family writes its lines. Methods on one object, not callbacks made per scrape or per
 * series: a closure made anew each scrape was optimized anew by V8 each scrape (an exporter
 * reading bpftrace every 5 s recompiled its scrape path every 5 s: docs/benchmarks.md section 6).
 */
export interface LineOut {
  /** One sample line: its labels (if any), labels shared with other lines (if any), value. */
  line(metricName: string, labels: Labels | undefined, shared: Labels | undefined, value: number): void;
  /**
   * The lines up to end() are one series of this family: its text is a function of `changes` and
   * `shape` (and of its labels, fixed for a series' life). `slot` tells apart the families one
   * holder has lines in (a reason's exits and its histogram): 0 or 1. False: its text is kept
   * (the last scrape's, unchanged): write none of its lines and do not call end().
   */
  begin(holder: SeriesHolder, slot: 0 | 1, changes: number, shape: number): boolean;
  end(): void;
}

export interface FamilyDef {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  each(out: LineOut): void;
}

/** For a consumer that keeps no text (prom-client's Registry): every series' lines, every time. */
export class EveryLine implements LineOut {
  constructor(readonly line: LineOut['line']) {}

  begin(): boolean {
    return true;
  }

  end(): void {}
}

// prom-client's escaping: HELP escapes \ and newline; label values also "
const escapeString = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabelValue = (s: string): string => escapeString(s).replace(/"/g, '\\"');

/** prom-client's getValueAsString. */
function valueText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/** A growing byte buffer: a scrape writes megabytes, and strings of that size are garbage to collect. */
class ByteWriter {
  buf: Buffer;
  at = 0;

  /**
   * A fresh buffer of `capacity`, or `spare` if it holds at least `enough`: a body a few bytes
   * longer than the last (counts gain digits) still fits a spare made with room to spare; asking
   * the spare for the full margin again threw it away most scrapes, and a fresh 8 MB buffer a
   * second is external memory that sets off full garbage collections.
   */
  constructor(capacity: number, enough: number, spare?: Buffer) {
    this.buf = spare && spare.length >= enough ? spare : Buffer.allocUnsafe(Math.max(4096, capacity));
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    this.room(n);
    // label texts are tens of bytes: a loop beats set()'s call overhead there
    if (n < 64) {
      const buf = this.buf;
      for (let i = 0, at = this.at; i < n; i++, at++) buf[at] = b[i] as number;
    } else this.buf.set(b, this.at);
    this.at += n;
  }

  /** ASCII only (names, numbers). */
  ascii(s: string): void {
    this.room(s.length);
    this.at += this.buf.write(s, this.at, 'latin1');
  }

  /** A value as prom-client writes it (`${v}`); whole numbers digit by digit, without a string. */
  value(v: number): void {
    if (v >= 0 && v < 2 ** 31 && (v | 0) === v) {
      // the usual count: 32-bit integer arithmetic
      const digits = v < 100_000 ? (v < 100 ? (v < 10 ? 1 : 2) : v < 1000 ? 3 : v < 10_000 ? 4 : 5) : v < 10_000_000 ? (v < 1_000_000 ? 6 : 7) : v < 100_000_000 ? 8 : v < 1_000_000_000 ? 9 : 10;
      this.room(digits);
      const buf = this.buf;
      let i = this.at + digits - 1;
      let x = v;
      do {
        buf[i--] = 0x30 + (x % 10);
        x = (x / 10) | 0;
      } while (x > 0);
      this.at += digits;
      return;
    }
    if (Number.isSafeInteger(v) && v >= 0) {
      let digits = 0;
      for (let x = v; x > 0; x = Math.floor(x / 10)) digits++;
      this.room(digits);
      for (let i = this.at + digits - 1, x = v; x > 0; i--, x = Math.floor(x / 10)) this.buf[i] = 0x30 + (x % 10);
      this.at += digits;
      return;
    }
    this.ascii(valueText(v));
  }

  /** Bytes [from, to) of another buffer. */
  copyFrom(source: Buffer, from: number, to: number): void {
    this.room(to - from);
    this.at += source.copy(this.buf, this.at, from, to);
  }

  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** What follows the families: a blank line and `tail` (if any, and if families came before), then the last newline. */
function tailBytes(afterFamilies: boolean, tail: string | undefined): Buffer {
  return Buffer.from(`${tail !== undefined ? `${afterFamilies ? '\n\n' : ''}${tail}` : ''}\n`, 'utf8');
}

/**
 * Where one series' text of one family is: at `offset`, `length` bytes, in the body that scrape
 * `scrape` of `owner` wrote; as of `changes` and `shape`. And its lines' prefixes, in line order.
 */
class SeriesText {
  owner: TextFormatter | undefined;
  scrape = -1;
  offset = 0;
  length = 0;
  changes = -1;
  shape = -1;
  /** Per line: name, own labels, shared labels, and their `\nname{labels,shared} `. */
  readonly names: string[] = [];
  readonly labels: (Labels | undefined)[] = [];
  readonly shared: (Labels | undefined)[] = [];
  readonly prefixes: Buffer[] = [];
  /** The next line's index while it is written. */
  line = 0;
}

/** Where a labels object keeps its formatted bytes (a symbol: prom-client's Object.entries and for-in skip it). */
const LABEL_BYTES = Symbol('exitscope.labelBytes');
const LINE_PREFIXES = Symbol('exitscope.linePrefixes');
type PrefixHolder = Labels & { [LINE_PREFIXES]?: Map<string, Map<Labels | undefined, Buffer>> };
const NEWLINE_BYTES = Buffer.from('\n');
const OPEN_BYTES = Buffer.from('{');
const CLOSE_BYTES = Buffer.from('}');
const COMMA_BYTES = Buffer.from(',');
const SPACE_BYTES = Buffer.from(' ');
type CachedLabels = Labels & { [LABEL_BYTES]?: Buffer };

export class TextFormatter {
  private readonly nameBytes = new Map<string, Buffer>();
  /** The last scrape's size: the next one's buffer starts there. */
  private lastSize = 64 * 1024;
  /** Scrapes written whole; the last one's body (its whole buffer) is the next one's source of unchanged series. */
  private scrapes = 0;
  /** The last body's buffer, and where its families' text ends (the tail follows). */
  private last: { buf: Buffer; familiesEnd: number } | undefined;
  /**
   * Bodies handed out and not given back yet, by their memory. A body's memory is written again
   * (as the spare) only once none of its hand-outs is in flight: again() hands the last one out
   * more than once. Weak: a body never given back (its client went away mid-way) is collected
   * with its buffer, not kept here.
   */
  private readonly inFlight = new WeakMap<ArrayBufferLike, number>();
  /**
   * A body given back once sent (release) and no longer the last one: the next scrape writes into
   * it. A scrape of megabytes a second in fresh buffers is mostly garbage collection; a body in
   * flight is never written over, nor is the last one (the next scrape reads it).
   */
  private spare: Buffer | undefined;

  private handOut(buf: Buffer): void {
    this.inFlight.set(buf.buffer, (this.inFlight.get(buf.buffer) ?? 0) + 1);
  }

  release(body: Buffer): void {
    const n = (this.inFlight.get(body.buffer) ?? 0) - 1;
    if (n > 0) {
      this.inFlight.set(body.buffer, n);
      return;
    }
    this.inFlight.delete(body.buffer);
    const whole = Buffer.from(body.buffer, body.byteOffset, body.buffer.byteLength - body.byteOffset);
    if (!(this.last && this.last.buf.buffer === whole.buffer && this.last.buf.byteOffset === whole.byteOffset)) this.offerSpare(whole);
  }

  private offerSpare(whole: Buffer): void {
    if (!this.spare || whole.length > this.spare.length) this.spare = whole;
  }

  /**
   * The last body's families again, with a new tail: for a scrape when nothing the families read
   * has changed since the last write (the caller knows: the model's version). No family is walked
   * and nothing is copied: the first part is the last body's own memory, handed out once more
   * (give each part list back with release() of its first part). Undefined before the first write.
   */
  again(tail?: string): Buffer[] | undefined {
    const last = this.last;
    if (!last) return undefined;
    this.handOut(last.buf);
    const families = last.buf.subarray(0, last.familiesEnd);
    return [families, tailBytes(last.familiesEnd > 0, tail)];
  }

  /** A labels object's text as UTF-8 bytes, made once and kept on the object. */
  private bytesOf(labels: CachedLabels): Buffer {
    let b = labels[LABEL_BYTES];
    if (b === undefined) {
      let t = '';
      for (const k in labels) t += `${t ? ',' : ''}${k}="${escapeLabelValue(labels[k] as string)}"`;
      b = Buffer.from(t, 'utf8');
      Object.defineProperty(labels, LABEL_BYTES, { value: b, enumerable: false });
    }
    return b;
  }

  /**
   * `\nname{labels,shared} ` of a line outside a series as bytes, made once: kept on its labels
   * object (the shared one, else the line's own) by name and own labels. Label objects are the
   * model's for good (exposition.ts), so is this.
   */
  prefixOf(name: string, labels: Labels | undefined, shared: Labels | undefined): Buffer {
    const holder = (shared ?? labels) as PrefixHolder | undefined;
    let byName = holder?.[LINE_PREFIXES];
    let byLabels = byName?.get(name);
    const cached = byLabels?.get(labels);
    if (cached !== undefined) return cached;
    const prefix = this.makePrefix(name, labels, shared);
    if (holder) {
      if (!byName) Object.defineProperty(holder, LINE_PREFIXES, { value: (byName = new Map()), enumerable: false });
      if (!byLabels) byName.set(name, (byLabels = new Map()));
      byLabels.set(labels, prefix);
    }
    return prefix;
  }

  private makePrefix(name: string, labels: Labels | undefined, shared: Labels | undefined): Buffer {
    const own = labels ? this.bytesOf(labels) : undefined;
    const common = shared ? this.bytesOf(shared) : undefined;
    const parts: Buffer[] = [NEWLINE_BYTES, this.name(name)];
    if (own || common) {
      parts.push(OPEN_BYTES);
      if (own) parts.push(own);
      if (own && common) parts.push(COMMA_BYTES);
      if (common) parts.push(common);
      parts.push(CLOSE_BYTES);
    }
    parts.push(SPACE_BYTES);
    return Buffer.concat(parts);
  }

  /** A new line `k` of a series (first render, a new `le` or vCPU): made here, kept by the series. */
  seriesPrefix(t: SeriesText, k: number, name: string, labels: Labels | undefined, shared: Labels | undefined): Buffer {
    const prefix = this.makePrefix(name, labels, shared);
    t.names[k] = name;
    t.labels[k] = labels;
    t.shared[k] = shared;
    t.prefixes[k] = prefix;
    return prefix;
  }

  private name(n: string): Buffer {
    let b = this.nameBytes.get(n);
    if (b === undefined) this.nameBytes.set(n, (b = Buffer.from(n, 'utf8')));
    return b;
  }

  /**
   * The families as Registry.metrics() writes them: apart by a blank line; `tail` (more text) last.
   * A series that has not moved since the last scrape is copied from that scrape's body (runs of
   * them, adjacent there, in one copy); one that moved is written line by line.
   */
  write(families: readonly FamilyDef[], tail?: string): Buffer {
    const w = new ByteWriter(this.lastSize + (this.lastSize >> 3), this.lastSize + (this.lastSize >> 6), this.spare);
    this.spare = undefined;
    const out = new ScrapeWriter(this, w, this.last?.buf, this.scrapes);
    families.forEach((f, i) => {
      out.flush();
      if (i > 0) w.ascii('\n\n');
      const name = escapeString(f.name);
      w.bytes(Buffer.from(`# HELP ${name} ${escapeString(f.help)}\n# TYPE ${name} ${f.type}`, 'utf8'));
      f.each(out);
    });
    out.flush();
    const familiesEnd = w.at;
    w.bytes(tailBytes(families.length > 0, tail));
    const body = w.done();
    this.lastSize = body.length;
    // this body is the next scrape's source; the one before, if nothing of it is in flight, is free to be written into
    const before = this.last;
    this.last = { buf: w.buf, familiesEnd };
    this.handOut(w.buf);
    this.scrapes = out.scrape;
    if (before && before.buf !== w.buf && !this.inFlight.has(before.buf.buffer)) this.offerSpare(before.buf);
    return body;
  }
}

/**
 * One scrape's writing (TextFormatter.write): the families' lines into `w`; a series that did not
 * move is a run of bytes of the last body (`source`), copied when the run ends.
 */
class ScrapeWriter implements LineOut {
  /** This scrape's number; `sourceScrape` wrote `source`. */
  readonly scrape: number;
  /** Unchanged series waiting to be copied: bytes [runFrom, runTo) of the source, to go at w.at. */
  private runFrom = 0;
  private runTo = 0;
  /** The series being written, if the lines are one's. */
  private current: SeriesText | undefined;

  constructor(
    private readonly formatter: TextFormatter,
    private readonly w: ByteWriter,
    private readonly source: Buffer | undefined,
    private readonly sourceScrape: number,
  ) {
    this.scrape = sourceScrape + 1;
  }

  flush(): void {
    if (this.runTo > this.runFrom) this.w.copyFrom(this.source as Buffer, this.runFrom, this.runTo);
    this.runFrom = this.runTo = 0;
  }

  line(metricName: string, labels: Labels | undefined, shared: Labels | undefined, value: number): void {
    const t = this.current;
    const w = this.w;
    if (t !== undefined) {
      // the line's prefix kept at its index in the series, if it is that line still
      const k = t.line++;
      const kept = t.prefixes[k];
      w.bytes(kept !== undefined && t.names[k] === metricName && t.labels[k] === labels && t.shared[k] === shared ? kept : this.formatter.seriesPrefix(t, k, metricName, labels, shared));
    } else {
      this.flush();
      w.bytes(this.formatter.prefixOf(metricName, labels, shared));
    }
    w.value(value);
  }

  begin(holder: SeriesHolder, slot: 0 | 1, changes: number, shape: number): boolean {
    const texts = (holder.rendered ??= [undefined, undefined]) as (SeriesText | undefined)[];
    let t = texts[slot];
    if (t !== undefined && t.changes === changes && t.shape === shape && t.scrape === this.sourceScrape && t.owner === this.formatter && this.source !== undefined) {
      // unchanged since the last scrape: its bytes there, joined to the run if adjacent
      if (this.runTo !== t.offset || this.runTo === this.runFrom) {
        this.flush();
        this.runFrom = this.runTo = t.offset;
      }
      t.offset = this.w.at + (this.runTo - this.runFrom);
      this.runTo += t.length;
      t.scrape = this.scrape;
      return false;
    }
    this.flush();
    if (t === undefined || t.owner !== this.formatter) t = texts[slot] = new SeriesText();
    t.owner = this.formatter;
    // not a valid copy until end(): a scrape that throws half-way leaves nothing to copy from
    t.scrape = -1;
    t.line = 0;
    t.offset = this.w.at;
    t.changes = changes;
    t.shape = shape;
    this.current = t;
    return true;
  }

  end(): void {
    const t = this.current as SeriesText;
    this.current = undefined;
    // lines a series no longer writes (never so today: a series only grows) go with their prefixes
    if (t.prefixes.length > t.line) t.names.length = t.labels.length = t.shared.length = t.prefixes.length = t.line;
    t.length = this.w.at - t.offset;
    t.scrape = this.scrape;
  }
}
