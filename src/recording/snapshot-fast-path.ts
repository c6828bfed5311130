/**
 * Snapshots are nearly all of a recording's bytes (one entry per VM x vCPU x reason), and zod
 * allocates per field it checks: on a recording with a million keys that garbage, not the model,
 * set the reader's memory. This checks a parsed snapshot line by hand, with the very rules of the
 * Snapshot schema (src/protocol/messages.ts), and builds the message zod would have built (only
 * the schema's fields). It accepts a subset of what the schema accepts: anything else, or anything
 * unusual, returns undefined and goes through zod (which also says what is wrong).
 * test/unit/recording-fuzz.test.ts checks that an accepted value is exactly zod's.
 */
import type { SnapshotMessage } from '../protocol/messages.js';

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
/** z.number().int(): a finite safe integer. */
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
const isCount = (x: unknown): x is number => isInt(x) && x >= 0;

function buckets(b: unknown): [number, number][] | undefined {
  if (!Array.isArray(b)) return undefined;
  const out: [number, number][] = new Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const x: unknown = b[i];
    if (!Array.isArray(x) || x.length !== 2 || !isCount(x[0]) || !isCount(x[1])) return undefined;
    out[i] = [x[0], x[1]];
  }
  return out;
}

/**
 * Maps an array of entries with `make` (undefined for a bad entry: the whole array is refused).
 * Copies, as zod does: the parsed line becomes garbage at once (young), where keeping its objects
 * measured worse (they are promoted along with the model).
 */
function entries<T>(a: unknown, make: (e: Obj) => T | undefined): T[] | undefined {
  if (!Array.isArray(a)) return undefined;
  const out: T[] = new Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const e: unknown = a[i];
    if (!isObj(e)) return undefined;
    const m = make(e);
    if (m === undefined) return undefined;
    out[i] = m;
  }
  return out;
}

export function fastSnapshot(j: unknown): SnapshotMessage | undefined {
  if (!isObj(j) || j.type !== 'snapshot' || !isCount(j.seq) || !isCount(j.t) || !isCount(j.ms)) return undefined;
  if (j.final !== undefined && typeof j.final !== 'boolean') return undefined;
  if (j.merged !== undefined && !isCount(j.merged)) return undefined;
  const exits = entries(j.exits, (e) => (isInt(e.pid) && isInt(e.tid) && isInt(e.isa) && isCount(e.reason) && isCount(e.n) ? { pid: e.pid, tid: e.tid, isa: e.isa, reason: e.reason, n: e.n } : undefined));
  if (!exits) return undefined;
  const exitNs = entries(j.exitNs, (e) => {
    const b = isInt(e.pid) && isInt(e.isa) && isCount(e.reason) ? buckets(e.b) : undefined;
    return b ? { pid: e.pid as number, isa: e.isa as number, reason: e.reason as number, b } : undefined;
  });
  if (!exitNs) return undefined;
  const faults = entries(j.faults, (e) => (isInt(e.pid) && isCount(e.code) && isCount(e.n) ? { pid: e.pid, code: e.code, n: e.n } : undefined));
  if (!faults) return undefined;
  const regions = entries(j.regions, (e) => (isInt(e.pid) && isCount(e.region) && isCount(e.n) ? { pid: e.pid, region: e.region, n: e.n } : undefined));
  if (!regions) return undefined;
  const handlers = entries(j.handlers, (e) => {
    const b = isInt(e.pid) && isCount(e.h) && isCount(e.n) ? buckets(e.b) : undefined;
    return b ? { pid: e.pid as number, h: e.h as number, n: e.n as number, b } : undefined;
  });
  if (!handlers) return undefined;
  return { type: 'snapshot', seq: j.seq, t: j.t, ms: j.ms, ...(j.final !== undefined ? { final: j.final } : {}), ...(j.merged !== undefined ? { merged: j.merged } : {}), exits, exitNs, faults, regions, handlers };
}
