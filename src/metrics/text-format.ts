/**
 * The text of our families, byte for byte what prom-client's Registry.metrics() writes for them
 * (test/unit/metrics-exposition.test.ts compares the two), only cheaper: families hand their lines
 * to a sink with label objects they keep from scrape to scrape; each line's `name{labels} ` is
 * escaped and encoded once and kept on those objects, and a scrape is a copy of it and the value per
 * line into a buffer reused between scrapes. prom-client formats every line's labels anew and wants
 * an object per line: at 1,000 VMs x 12 reasons some 150,000 lines a scrape, mostly garbage.
 * (Memory for it: about 20 MB at 1,000 VMs, docs/benchmarks.md section 6.)
 */

export type Labels = Readonly<Record<string, string>>;
/** One sample line: its labels (if any), labels shared with other lines (if any), value. */
export type Sink = (metricName: string, labels: Labels | undefined, shared: Labels | undefined, value: number) => void;

export interface FamilyDef {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  each(sink: Sink): void;
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

  constructor(capacity: number, spare?: Buffer) {
    this.buf = spare && spare.length >= capacity ? spare : Buffer.allocUnsafe(Math.max(4096, capacity));
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

  byte(c: number): void {
    this.room(1);
    this.buf[this.at++] = c;
  }

  /** A value as prom-client writes it (`${v}`); whole numbers digit by digit, without a string. */
  value(v: number): void {
    if (Number.isSafeInteger(v) && v >= 0) {
      if (v === 0) return this.byte(0x30);
      let digits = 0;
      for (let x = v; x > 0; x = Math.floor(x / 10)) digits++;
      this.room(digits);
      for (let i = this.at + digits - 1, x = v; x > 0; i--, x = Math.floor(x / 10)) this.buf[i] = 0x30 + (x % 10);
      this.at += digits;
      return;
    }
    this.ascii(valueText(v));
  }

  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

const NEWLINE = 0x0a;

/** Where a labels object keeps its formatted bytes (a symbol: prom-client's Object.entries and for-in skip it). */
const LABEL_BYTES = Symbol('exitscope.labelBytes');
const LINE_PREFIXES = Symbol('exitscope.linePrefixes');
type PrefixHolder = Labels & { [LINE_PREFIXES]?: Map<string, Map<Labels | undefined, Buffer>> };
const OPEN_BYTES = Buffer.from('{');
const CLOSE_BYTES = Buffer.from('}');
const COMMA_BYTES = Buffer.from(',');
const SPACE_BYTES = Buffer.from(' ');
type CachedLabels = Labels & { [LABEL_BYTES]?: Buffer };

export class TextFormatter {
  private readonly nameBytes = new Map<string, Buffer>();
  /** The last scrape's size: the next one's buffer starts there. */
  private lastSize = 64 * 1024;
  /**
   * A body given back once sent (release): the next scrape writes into it. A scrape of megabytes
   * a second in fresh buffers is mostly garbage collection; one in flight is never written over.
   */
  private spare: Buffer | undefined;

  release(body: Buffer): void {
    const whole = Buffer.from(body.buffer, body.byteOffset, body.buffer.byteLength - body.byteOffset);
    if (!this.spare || whole.length > this.spare.length) this.spare = whole;
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
   * `name{labels,shared} ` of a line as bytes, made once: kept on the series' labels object (the
   * shared one, else the line's own) by name and own labels, so that a line is one copy and its
   * value, not seven pieces. Label objects are the model's for good (exposition.ts), so is this.
   */
  private prefixOf(name: string, labels: Labels | undefined, shared: Labels | undefined): Buffer {
    const holder = (shared ?? labels) as PrefixHolder | undefined;
    let byName = holder?.[LINE_PREFIXES];
    let byLabels = byName?.get(name);
    const cached = byLabels?.get(labels);
    if (cached !== undefined) return cached;
    const own = labels ? this.bytesOf(labels) : undefined;
    const common = shared ? this.bytesOf(shared) : undefined;
    const parts: Buffer[] = [this.name(name)];
    if (own || common) {
      parts.push(OPEN_BYTES);
      if (own) parts.push(own);
      if (own && common) parts.push(COMMA_BYTES);
      if (common) parts.push(common);
      parts.push(CLOSE_BYTES);
    }
    parts.push(SPACE_BYTES);
    const prefix = Buffer.concat(parts);
    if (holder) {
      if (!byName) Object.defineProperty(holder, LINE_PREFIXES, { value: (byName = new Map()), enumerable: false });
      if (!byLabels) byName.set(name, (byLabels = new Map()));
      byLabels.set(labels, prefix);
    }
    return prefix;
  }

  private name(n: string): Buffer {
    let b = this.nameBytes.get(n);
    if (b === undefined) this.nameBytes.set(n, (b = Buffer.from(n, 'utf8')));
    return b;
  }

  /** The families as Registry.metrics() writes them: apart by a blank line; `tail` (more text) last. */
  write(families: readonly FamilyDef[], tail?: string): Buffer {
    const w = new ByteWriter(this.lastSize + (this.lastSize >> 3), this.spare);
    this.spare = undefined;
    families.forEach((f, i) => {
      if (i > 0) w.ascii('\n\n');
      const name = escapeString(f.name);
      w.bytes(Buffer.from(`# HELP ${name} ${escapeString(f.help)}\n# TYPE ${name} ${f.type}`, 'utf8'));
      f.each((metricName, labels, shared, value) => {
        w.byte(NEWLINE);
        w.bytes(this.prefixOf(metricName, labels, shared));
        w.value(value);
      });
    });
    if (tail !== undefined) w.bytes(Buffer.from(`${families.length ? '\n\n' : ''}${tail}`, 'utf8'));
    w.byte(NEWLINE);
    const out = w.done();
    this.lastSize = out.length;
    return out;
  }
}
