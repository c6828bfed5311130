/**
 * The text of our families, byte for byte what prom-client's Registry.metrics() writes for them
 * (test/unit/metrics-exposition.test.ts compares the two), only cheaper: families hand their lines
 * to a sink with label objects they keep from scrape to scrape, and each object's text is escaped
 * and joined once (a WeakMap), where prom-client formats every line's labels anew and wants an
 * object per line (at 1,000 VMs x 12 reasons, some 150,000 lines a scrape: garbage and time).
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

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(4096, capacity));
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
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

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const COMMA = 0x2c;
const SPACE = 0x20;
const NEWLINE = 0x0a;

export class TextFormatter {
  /** Each labels object's text as UTF-8 bytes, made once. */
  private readonly labelBytes = new WeakMap<Labels, Buffer>();
  private readonly nameBytes = new Map<string, Buffer>();
  /** The last scrape's size: the next one's buffer starts there. */
  private lastSize = 64 * 1024;

  private bytesOf(labels: Labels): Buffer {
    let b = this.labelBytes.get(labels);
    if (b === undefined) {
      let t = '';
      for (const k in labels) t += `${t ? ',' : ''}${k}="${escapeLabelValue(labels[k] as string)}"`;
      this.labelBytes.set(labels, (b = Buffer.from(t, 'utf8')));
    }
    return b;
  }

  private name(n: string): Buffer {
    let b = this.nameBytes.get(n);
    if (b === undefined) this.nameBytes.set(n, (b = Buffer.from(n, 'utf8')));
    return b;
  }

  /** The families as Registry.metrics() writes them: apart by a blank line; `tail` (more text) last. */
  write(families: readonly FamilyDef[], tail?: string): Buffer {
    const w = new ByteWriter(this.lastSize + (this.lastSize >> 3));
    families.forEach((f, i) => {
      if (i > 0) w.ascii('\n\n');
      const name = escapeString(f.name);
      w.bytes(Buffer.from(`# HELP ${name} ${escapeString(f.help)}\n# TYPE ${name} ${f.type}`, 'utf8'));
      f.each((metricName, labels, shared, value) => {
        w.byte(NEWLINE);
        w.bytes(this.name(metricName));
        if (labels || shared) {
          w.byte(OPEN);
          if (labels) w.bytes(this.bytesOf(labels));
          if (labels && shared) w.byte(COMMA);
          if (shared) w.bytes(this.bytesOf(shared));
          w.byte(CLOSE);
        }
        w.byte(SPACE);
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
