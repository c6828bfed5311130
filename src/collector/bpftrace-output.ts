/**
 * Parses bpftrace's `-f json` output (one JSON object per line) from our
 * program into frames: the maps printed between two markers, by copy (the
 * program rotates copies of its maps: src/probes/program.ts), with the epoch
 * the begin marker names. Also picks out attach, lost-event and detail
 * records. Printed values are kept as they are; deltas are the next stage's
 * job (deltas.ts).
 */
import { StringDecoder } from 'node:string_decoder';
import { MAPS, MARK } from '../probes/program.js';
import { foldCounts, foldHists } from './thread-keys.js';

export interface Bucket {
  /** Lower bound of the log2 bucket (bpftrace's "min"), in the map's unit. */
  low: number;
  count: number;
}

export type CountField = 'exits' | 'faults' | 'regions' | 'handlerCalls';
export type HistField = 'exitNs' | 'handlerNs';
export type MapField = CountField | HistField;

/** One copy of the counting maps as printed (values since that copy was last cleared). */
export interface CopyMaps {
  /** The maps that were printed (a record can be lost, and an empty map prints nothing: deltas.ts keeps the old values then). */
  seen: Set<MapField>;
  exits: Map<string, number>; // "pid,tid,isa,reason"
  exitNs: Map<string, Bucket[]>; // "pid,why" (why = isa << 32 | reason)
  faults: Map<string, number>; // "pid,error_code"
  regions: Map<string, number>; // "pid,region"
  handlerCalls: Map<string, number>; // "pid,handler"
  handlerNs: Map<string, Bucket[]>; // "pid,handler"
  /**
   * Each printed map as the kernel holds it, before keys by thread are added up (thread-keys.ts): its
   * keys and its histogram buckets with a count. The fill check counts these, as the cap does.
   */
  raw: Partial<Record<MapField, { keys: number; buckets: number }>>;
}

export interface Frame {
  final: boolean;
  /** bpftrace's nsecs (CLOCK_MONOTONIC) when the maps were printed. */
  tNs: number;
  /** The copy probes write to now (a program with copies; undefined for one cumulative copy, or at END). */
  active?: number;
  /** The copy bpftrace clears right after this print: its values start from nothing next time. */
  cleared?: number;
  /**
   * At END (a program with copies): each copy whose clear had not been done when END ran, with the
   * tNs of the frame that queued it. A clear queued after an interval's print is lost if SIGINT
   * comes while bpftrace reads that interval's events (it drops the rest): that copy prints at END
   * once more as that frame printed it.
   */
  uncleared?: ReadonlyMap<number, number>;
  /** The copies printed, by number (0 for a program without copies, whose maps have no suffix). */
  copies: Map<number, CopyMaps>;
}

export function emptyCopy(): CopyMaps {
  return { seen: new Set(), exits: new Map(), exitNs: new Map(), faults: new Map(), regions: new Map(), handlerCalls: new Map(), handlerNs: new Map(), raw: {} };
}

/** The copy's maps in a frame, made on first use. */
export function copyOf(frame: Frame, copy: number): CopyMaps {
  let c = frame.copies.get(copy);
  if (!c) frame.copies.set(copy, (c = emptyCopy()));
  return c;
}

export interface DetailExit {
  pid: number;
  tid: number;
  isa: number;
  reason: number;
  rip: string;
  info1: string;
  info2: string;
}

export type OutputEvent =
  | { kind: 'frame'; frame: Frame }
  /** Our BEGIN marker: every probe is attached, counting has started (bpftrace clock). */
  | { kind: 'attached'; tNs: number }
  /** bpftrace's own count of attached probes. */
  | { kind: 'attached_probes'; probes: number }
  | { kind: 'lost'; events: number }
  /**
   * A helper call in the program that failed (bpftrace 0.23 reports each): a map update that failed
   * is a count the kernel did not keep. Seen: map_update_elem, EEXIST (-17), two CPUs adding one key
   * at once (probes/dialect.ts threadKeys).
   */
  | { kind: 'helper_error'; helper: string; retcode: number; message: string; /** The program's line (1-based). */ line?: number }
  | { kind: 'exit'; exit: DetailExit }
  /** A line we did not expect: bpftrace's own warnings and errors land here. */
  | { kind: 'text'; line: string };

const COUNT_MAPS: Record<string, CountField> = {
  [MAPS.exits]: 'exits',
  [MAPS.faults]: 'faults',
  [MAPS.faultRegions]: 'regions',
  [MAPS.handlerCalls]: 'handlerCalls',
};
const HIST_MAPS: Record<string, HistField> = { [MAPS.exitNs]: 'exitNs', [MAPS.handlerNs]: 'handlerNs' };
/** Copies a program may have (program.ts allows 1..8): names with a larger suffix are not ours. */
const MAX_COPIES = 8;

/** Every printed map name we read: "@exits" (one cumulative copy, number 0) and "@exits0".."@exits7". */
export const MAP_NAMES = new Map<string, { field: MapField; hist: boolean; copy: number }>();
for (const [table, hist] of [[COUNT_MAPS, false], [HIST_MAPS, true]] as const) {
  for (const [name, field] of Object.entries(table)) {
    MAP_NAMES.set(name, { field, hist, copy: 0 });
    for (let c = 0; c < MAX_COPIES; c++) MAP_NAMES.set(`${name}${c}`, { field, hist, copy: c });
  }
}

function emptyFrame(final: boolean, tNs: number): Frame {
  return { final, tNs, copies: new Map() };
}

/** A copy number from a marker: "-" (none) or anything else not a copy is undefined. */
function copyNumber(word: string | undefined): number | undefined {
  if (word === undefined || !/^\d$/.test(word)) return undefined;
  const n = Number(word);
  return n < MAX_COPIES ? n : undefined;
}

/** The final marker's @pending values, one per copy in order: copy -> the tNs of the frame whose clear was not done. */
function unclearedCopies(values: readonly string[]): Map<number, number> {
  const out = new Map<number, number>();
  values.forEach((v, c) => c < MAX_COPIES && Number(v) > 0 && out.set(c, Number(v)));
  return out;
}

export function toBuckets(raw: unknown): Bucket[] {
  if (!Array.isArray(raw)) return [];
  const out: Bucket[] = [];
  for (const b of raw as { min?: number; max?: number; count?: number }[]) {
    if (typeof b.count !== 'number' || b.count === 0) continue;
    out.push({ low: typeof b.min === 'number' ? b.min : 0, count: b.count });
  }
  // bpftrace prints buckets in ascending order; deltas.ts relies on it, so make sure
  for (let i = 1; i < out.length; i++) if ((out[i] as Bucket).low < (out[i - 1] as Bucket).low) return out.sort((a, b) => a.low - b.low);
  return out;
}

/**
 * A push parser: feed it bytes as they arrive (never pause the pipe: a stalled
 * reader makes bpftrace lose events), get events back.
 */
export class BpftraceOutputParser {
  /** The start of a line still waiting for its newline, in pieces (a map's line can be megabytes). */
  private pending: string[] = [];
  /** Keeps a UTF-8 character split between two chunks whole. */
  private readonly decoder = new StringDecoder('utf8');
  private frame: Frame | undefined;
  /** The frame being read (between a begin marker and its end), if any: snapshot-reader.ts follows it. */
  get current(): Frame | undefined {
    return this.frame;
  }
  /** Lines that were not JSON: counted, for the benchmark and for diagnosis. */
  textLines = 0;

  push(chunk: Buffer | string, out: (e: OutputEvent) => void): void {
    const data = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let nl = data.indexOf('\n');
    if (nl < 0) {
      if (data.length) this.pending.push(data);
      return;
    }
    // Only the new chunk is searched for newlines: joining and rescanning the pending
    // part on every chunk would make a long line quadratic.
    let start = 0;
    if (this.pending.length) {
      this.pending.push(data.slice(0, nl));
      const first = this.pending.join('');
      this.pending = [];
      this.line(first, out);
      start = nl + 1;
      nl = data.indexOf('\n', start);
    }
    for (; nl >= 0; nl = data.indexOf('\n', start)) {
      this.line(data.slice(start, nl), out);
      start = nl + 1;
    }
    if (start < data.length) this.pending.push(data.slice(start));
  }

  /** Flushes a last line without a newline (at exit). */
  end(out: (e: OutputEvent) => void): void {
    const last = this.pending.join('') + this.decoder.end();
    this.pending = [];
    if (last.length > 0) this.line(last, out);
  }

  line(raw: string, out: (e: OutputEvent) => void): void {
    const line = raw.trim();
    if (line.length === 0) return;
    if (line.charCodeAt(0) !== 123 /* { */) {
      // bpftrace <= 0.24 prints "Lost N events" as text on stdout
      const lost = /^Lost (\d+) events/.exec(line);
      if (lost) out({ kind: 'lost', events: Number(lost[1]) });
      else {
        this.textLines++;
        out({ kind: 'text', line });
      }
      return;
    }
    let rec: { type?: string; data?: unknown };
    try {
      rec = JSON.parse(line) as { type?: string; data?: unknown };
    } catch {
      this.textLines++;
      out({ kind: 'text', line });
      return;
    }
    switch (rec.type) {
      case 'printf':
        this.printf(String(rec.data ?? ''), out);
        return;
      case 'map':
      case 'hist':
        this.map(rec.type, rec.data as Record<string, unknown>);
        return;
      case 'attached_probes':
        out({ kind: 'attached_probes', probes: (rec.data as { probes?: number })?.probes ?? 0 });
        return;
      case 'lost_events':
        out({ kind: 'lost', events: Number((rec.data as { events?: number })?.events ?? 0) });
        return;
      case 'helper_error': {
        // bpftrace 0.23: {"type": "helper_error", "msg": "File exists", "helper": "map_update_elem", "retcode": -17, "line": 29, "col": 28}
        const e = rec as { helper?: unknown; retcode?: unknown; msg?: unknown; line?: unknown };
        out({ kind: 'helper_error', helper: String(e.helper ?? 'unknown'), retcode: Number(e.retcode ?? 0), message: String(e.msg ?? ''), ...(typeof e.line === 'number' ? { line: e.line } : {}) });
        return;
      }
      default:
        // time, value, stats, join...: not printed by our program
        return;
    }
  }

  private printf(text: string, out: (e: OutputEvent) => void): void {
    for (const l of text.split('\n')) {
      if (l.length === 0) continue;
      const [mark, ...rest] = l.split(' ');
      if (mark === MARK.begin || mark === MARK.final) {
        this.frame = emptyFrame(mark === MARK.final, Number(rest[0] ?? 0));
        const active = copyNumber(rest[1]);
        const cleared = copyNumber(rest[2]);
        if (mark === MARK.begin && active !== undefined) this.frame.active = active;
        if (mark === MARK.begin && cleared !== undefined) this.frame.cleared = cleared;
        if (mark === MARK.final && rest.length > 1) this.frame.uncleared = unclearedCopies(rest.slice(1));
      } else if (mark === MARK.end) {
        if (this.frame) out({ kind: 'frame', frame: this.frame });
        this.frame = undefined;
      } else if (mark === MARK.exit && rest.length >= 7) {
        const [pid, tid, isa, reason, rip, info1, info2] = rest;
        out({ kind: 'exit', exit: { pid: Number(pid), tid: Number(tid), isa: Number(isa), reason: Number(reason), rip: hexOf(rip), info1: hexOf(info1), info2: hexOf(info2) } });
      } else if (mark === MARK.attached) out({ kind: 'attached', tNs: Number(rest[0] ?? 0) });
      else out({ kind: 'text', line: l });
    }
  }

  private map(type: string, data: Record<string, unknown> | undefined): void {
    if (!this.frame || !data) return; // bpftrace's own dump at exit, outside our frames
    for (const name in data) {
      const value = data[name];
      if (typeof value !== 'object' || value === null) continue;
      const known = MAP_NAMES.get(name);
      if (!known || known.hist !== (type === 'hist')) continue;
      const copy = copyOf(this.frame, known.copy);
      copy.seen.add(known.field);
      // keys with the thread (dialect.ts threadKeys) are added up per print: thread-keys.ts
      if (known.hist) {
        const target = copy[known.field as HistField];
        const entries = value as Record<string, unknown>;
        const read = Object.keys(entries).map((k): [string, Bucket[]] => [k, toBuckets(entries[k])]);
        copy.raw[known.field] = { keys: read.length, buckets: read.reduce((a, [, b]) => a + b.length, 0) };
        for (const [k, b] of foldHists(known.field, read)) target.set(k, b);
      } else {
        const target = copy[known.field as CountField];
        copy.raw[known.field] = { keys: Object.keys(value as object).length, buckets: 0 };
        for (const [k, n] of foldCounts(known.field, value as Record<string, unknown>)) target.set(k, n);
      }
    }
  }
}

function hexOf(decimal: string | undefined): string {
  try {
    return `0x${BigInt(decimal ?? '0').toString(16)}`;
  } catch {
    return '0x0';
  }
}
