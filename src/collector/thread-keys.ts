/**
 * Keys printed with the thread after the pid. On bpftrace releases that lose a count when two CPUs
 * add one key at once (probes/dialect.ts threadKeys), the program keys every counting map by thread
 * too: [pid, tid, x] where the map's key is [pid, x] (@exits has the thread already). The readers
 * add the threads' values up, per print, so that everything after them sees the usual keys.
 */
import type { Bucket, MapField } from './bpftrace-output.js';
import { addBuckets } from './deltas.js';

/** Numbers in a key of each map, as the stream knows it: exits [pid, tid, isa, reason], the others [pid, x]. */
export const KEY_ARITY: Readonly<Record<MapField, number>> = { exits: 4, exitNs: 2, faults: 2, regions: 2, handlerCalls: 2, handlerNs: 2 };

/** "pid,tid,x" -> "pid,x" for a map keyed [pid, x]; undefined for any other key (used as it is). */
export function threadFolded(field: MapField, key: string): string | undefined {
  if (KEY_ARITY[field] !== 2) return undefined;
  const first = key.indexOf(',');
  if (first < 0) return undefined;
  const second = key.indexOf(',', first + 1);
  if (second < 0 || key.indexOf(',', second + 1) >= 0) return undefined;
  return key.slice(0, first) + key.slice(second);
}

/**
 * One print of a count map, its keys as they should be: thread keys added up, any other key as it is.
 * Per print: a map printed twice in a frame must replace, not add to, its first print.
 */
export function foldCounts(field: MapField, entries: Record<string, unknown>): Map<string, number> {
  const out = new Map<string, number>();
  for (const k in entries) {
    const v = entries[k];
    if (typeof v !== 'number') continue;
    const f = threadFolded(field, k);
    if (f === undefined) out.set(k, v);
    else out.set(f, (out.get(f) ?? 0) + v);
  }
  return out;
}

/** The same for a histogram map's print (values already read into bucket lists). */
export function foldHists(field: MapField, entries: Iterable<[string, Bucket[]]>): Map<string, Bucket[]> {
  const out = new Map<string, Bucket[]>();
  for (const [k, b] of entries) {
    const f = threadFolded(field, k);
    if (f === undefined) out.set(k, b);
    else {
      const before = out.get(f);
      out.set(f, before ? addBuckets(before, b) : b);
    }
  }
  return out;
}

/**
 * Exit counts by VM (tid 0) from counts by thread: what a consumer that asked for them by VM (the
 * exporter without --metrics-vcpu: program.ts exitsByThread) gets when the kernel had to key them by
 * thread. One entry per VM, ISA and reason, in the order first seen.
 */
export function exitsByVm<E extends { pid: number; tid: number; isa: number; reason: number; n: number }>(exits: E[]): E[] {
  const byKey = new Map<string, E>();
  for (const e of exits) {
    const k = `${e.pid},${e.isa},${e.reason}`;
    const before = byKey.get(k);
    byKey.set(k, before ? { ...before, n: before.n + e.n } : { ...e, tid: 0 });
  }
  return [...byKey.values()];
}
