/**
 * What a count is made of: bpftrace's own output as exitscope kept it (EXITSCOPE_BPFTRACE_LOG=FILE),
 * read frame by frame by both readers: the fast one (collector/snapshot-reader.ts, what exitscope
 * runs) and the reference (bpftrace-output.ts + deltas.ts). Each frame says what each copy of one map
 * held when printed and what each reader counted from it. For a count that differs from perf stat's:
 * where it went, or that bpftrace's output never had it. Used by scripts/explain-raw.mjs and by the
 * lab tests that compare counts with perf stat, in their failure messages.
 */
import { BpftraceOutputParser, type CountField, type OutputEvent } from '../collector/bpftrace-output.js';
import { DeltaTracker, type Deltas } from '../collector/deltas.js';
import { type ReaderEvent, SnapshotReader } from '../collector/snapshot-reader.js';

export interface FrameCount {
  tNs: number;
  final: boolean;
  active?: number;
  cleared?: number;
  /** Final frames: copy -> the time of the interval whose clear of it END found not done. */
  uncleared?: ReadonlyMap<number, number>;
  /** Copy -> the sum of the map's values as printed (undefined: the copy printed without this map). */
  held: [number, number | undefined][];
  reference: number;
  fast: number | undefined;
}

export interface RawExplanation {
  field: CountField;
  frames: FrameCount[];
  /** Lost-event reports and bpftrace's own text lines (other than "Attaching N probes"). */
  notes: string[];
  total: { reference: number; fast: number };
  /** begin and final markers in the bytes: more than frames read means frames cut short (SIGINT). */
  markers: number;
}

const sumOf = (m: ReadonlyMap<string, number>): number => {
  let s = 0;
  for (const n of m.values()) s += n;
  return s;
};

/** The snapshot list a count map's deltas go to. */
const LIST = { exits: 'exits', faults: 'faults', regions: 'regions', handlerCalls: 'handlers' } as const satisfies Record<CountField, keyof Deltas>;

function deltaSum(d: Deltas, field: CountField): number {
  let s = 0;
  for (const e of d[LIST[field]]) s += e.n;
  return s;
}

export function explainRaw(bytes: Buffer, field: CountField): RawExplanation {
  const parser = new BpftraceOutputParser();
  const tracker = new DeltaTracker();
  const frames: FrameCount[] = [];
  const notes: string[] = [];
  const onEvent = (e: OutputEvent): void => {
    if (e.kind === 'attached') tracker.started(e.tNs);
    else if (e.kind === 'frame') {
      const f = e.frame;
      // read before apply(): it fills a map whose print was lost with the copy's previous values
      const held = [...f.copies].map(([c, maps]): [number, number | undefined] => [c, maps.seen.has(field) ? sumOf(maps[field]) : undefined]);
      frames.push({ tNs: f.tNs, final: f.final, ...(f.active !== undefined ? { active: f.active } : {}), ...(f.cleared !== undefined ? { cleared: f.cleared } : {}), ...(f.uncleared ? { uncleared: f.uncleared } : {}), held, reference: deltaSum(tracker.apply(f), field), fast: undefined });
    } else if (e.kind === 'lost') notes.push(`lost ${e.events} events`);
    else if (e.kind === 'helper_error') notes.push(`helper error: ${e.helper} ${e.message} (${e.retcode})${e.helper === 'map_update_elem' ? ': a count the kernel did not keep' : ''}`);
    else if (e.kind === 'text' && !/^Attaching \d+ probes/.test(e.line)) notes.push(`text: ${e.line.slice(0, 160)}`);
  };
  parser.push(bytes, onEvent);
  parser.end(onEvent);

  const reader = new SnapshotReader();
  let i = 0;
  const onReader = (e: ReaderEvent): void => {
    if (e.kind === 'attached') reader.started(e.tNs);
    else if (e.kind === 'snapshot') {
      const f = frames[i++];
      if (f) f.fast = deltaSum(e.deltas, field);
    }
  };
  reader.push(bytes, onReader);
  reader.end(onReader);

  let markers = 0;
  for (let at = bytes.indexOf('exitscope:'); at >= 0; at = bytes.indexOf('exitscope:', at + 1)) {
    if (bytes.subarray(at, at + 16).toString() === 'exitscope:begin ' || bytes.subarray(at, at + 16).toString() === 'exitscope:final ') markers++;
  }
  const total = { reference: 0, fast: 0 };
  for (const f of frames) {
    total.reference += f.reference;
    total.fast += f.fast ?? 0;
  }
  return { field, frames, notes, total, markers };
}

/**
 * As text, one line a frame. Unless `all`, only the frames where more than the active copy's first
 * print counted (a copy printed again, an epoch that waited, the final frame) and their neighbours.
 */
export function formatExplanation(x: RawExplanation, all = false): string[] {
  const shown = new Set<number>();
  x.frames.forEach((f, i) => {
    if (all || f.final || f.held.length !== 1 || f.reference !== f.fast) for (let j = i - 1; j <= i + 1; j++) shown.add(j);
  });
  const out = [`${x.frames.length} frames read (${x.markers} begin/final markers), map ${x.field}`, 'frame  tNs                 active cleared  printed (copy:sum)         reference   fast'];
  x.frames.forEach((f, i) => {
    if (!shown.has(i)) return;
    const kind = f.final ? `final ${f.uncleared ? [...f.uncleared].map(([c, t]) => `${c}@${t}`).join(',') : ''}` : `${f.active ?? '-'}      ${f.cleared ?? '-'}`;
    const held = f.held.map(([c, s]) => `${c}:${s ?? '-'}`).join(' ');
    out.push(`${String(i).padStart(5)}  ${String(f.tNs).padEnd(18)}  ${kind.padEnd(15)} ${held.padEnd(26)} ${String(f.reference).padStart(9)} ${String(f.fast ?? '?').padStart(6)}`);
  });
  out.push(...x.notes.slice(0, 20));
  out.push(`total ${x.field}: reference ${x.total.reference}, fast ${x.total.fast}`);
  return out;
}
