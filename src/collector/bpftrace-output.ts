/**
 * Parses bpftrace's `-f json` output (one JSON object per line) from our
 * program into frames: the maps printed between two markers. Also picks out
 * attach, lost-event and detail records. Cumulative values are kept as they
 * are; deltas are the next stage's job (deltas.ts).
 */
import { StringDecoder } from 'node:string_decoder';
import { MAPS, MARK } from '../probes/program.js';

export interface Bucket {
  /** Lower bound of the log2 bucket (bpftrace's "min"), in the map's unit. */
  low: number;
  count: number;
}

export interface Frame {
  final: boolean;
  /** The maps that were printed in this frame (a record can be lost; deltas.ts keeps the old values then). */
  seen?: Set<'exits' | 'exitNs' | 'faults' | 'regions' | 'handlerCalls' | 'handlerNs'>;
  /** bpftrace's nsecs (CLOCK_MONOTONIC) when the maps were printed. */
  tNs: number;
  exits: Map<string, number>; // "pid,tid,isa,reason"
  exitNs: Map<string, Bucket[]>; // "pid,why" (why = isa << 32 | reason)
  faults: Map<string, number>; // "pid,error_code"
  regions: Map<string, number>; // "pid,region"
  handlerCalls: Map<string, number>; // "pid,handler"
  handlerNs: Map<string, Bucket[]>; // "pid,handler"
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
  | { kind: 'exit'; exit: DetailExit }
  /** A line we did not expect: bpftrace's own warnings and errors land here. */
  | { kind: 'text'; line: string };

const COUNT_MAPS: Record<string, 'exits' | 'faults' | 'regions' | 'handlerCalls'> = {
  [MAPS.exits]: 'exits',
  [MAPS.faults]: 'faults',
  [MAPS.faultRegions]: 'regions',
  [MAPS.handlerCalls]: 'handlerCalls',
};
const HIST_MAPS: Record<string, 'exitNs' | 'handlerNs'> = { [MAPS.exitNs]: 'exitNs', [MAPS.handlerNs]: 'handlerNs' };

function emptyFrame(final: boolean, tNs: number): Frame {
  return { final, tNs, seen: new Set(), exits: new Map(), exitNs: new Map(), faults: new Map(), regions: new Map(), handlerCalls: new Map(), handlerNs: new Map() };
}

function toBuckets(raw: unknown): Bucket[] {
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
      default:
        // time, value, stats, join...: not printed by our program
        return;
    }
  }

  private printf(text: string, out: (e: OutputEvent) => void): void {
    for (const l of text.split('\n')) {
      if (l.length === 0) continue;
      const [mark, ...rest] = l.split(' ');
      if (mark === MARK.begin || mark === MARK.final) this.frame = emptyFrame(mark === MARK.final, Number(rest[0] ?? 0));
      else if (mark === MARK.end) {
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
      if (type === 'map') {
        const field = COUNT_MAPS[name];
        if (!field) continue;
        const target = this.frame[field];
        this.frame.seen?.add(field);
        const entries = value as Record<string, number>;
        for (const k in entries) target.set(k, entries[k] as number);
      } else {
        const field = HIST_MAPS[name];
        if (!field) continue;
        const target = this.frame[field];
        this.frame.seen?.add(field);
        const entries = value as Record<string, unknown>;
        for (const k in entries) target.set(k, toBuckets(entries[k]));
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
