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
type Entry<K extends 'exits' | 'exitNs' | 'faults' | 'regions' | 'handlers'> = SnapshotMessage[K][number];
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
/** z.number().int(): a finite safe integer. */
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
const isCount = (x: unknown): x is number => isInt(x) && x >= 0;

/** A histogram's buckets, as parsed (arrays from JSON have no other properties to strip). */
function buckets(b: unknown): [number, number][] | undefined {
  if (!Array.isArray(b)) return undefined;
  for (let i = 0; i < b.length; i++) {
    const x: unknown = b[i];
    if (!Array.isArray(x) || x.length !== 2 || !isCount(x[0]) || !isCount(x[1])) return undefined;
  }
  return b as [number, number][];
}

/** How many keys an object has (for-in: no array of them is made). */
function keyCount(o: Obj): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

/**
 * Checks an array of entries with `make` (undefined for a bad entry: the whole array is refused).
 * An entry that has exactly the schema's fields (`fields` of them, all checked) is used as parsed;
 * one with more is copied without them, as zod strips them. Not copying matters: a snapshot line
 * of 262,144 entries is 26 MB of objects, and a copy doubled that at the reader's peak.
 */
function entries<T>(a: unknown, fields: number, make: (e: Obj, exact: boolean) => T | undefined): T[] | undefined {
  if (!Array.isArray(a)) return undefined;
  let out: T[] | undefined;
  for (let i = 0; i < a.length; i++) {
    const e: unknown = a[i];
    if (!isObj(e)) return undefined;
    const exact = keyCount(e) === fields;
    const m = make(e, exact);
    if (m === undefined) return undefined;
    if (m !== e && !out) out = (a as T[]).slice(0, i); // the first copy: the array is ours from here
    if (out) out[i] = m;
  }
  return out ?? (a as T[]);
}

export function fastSnapshot(j: unknown): SnapshotMessage | undefined {
  if (!isObj(j) || j.type !== 'snapshot' || !isCount(j.seq) || !isCount(j.t) || !isCount(j.ms)) return undefined;
  if (j.final !== undefined && typeof j.final !== 'boolean') return undefined;
  if (j.merged !== undefined && !isCount(j.merged)) return undefined;
  const exits = entries(j.exits, 5, (e, exact) => (isInt(e.pid) && isInt(e.tid) && isInt(e.isa) && isCount(e.reason) && isCount(e.n) ? (exact ? (e as Entry<'exits'>) : { pid: e.pid, tid: e.tid, isa: e.isa, reason: e.reason, n: e.n }) : undefined));
  if (!exits) return undefined;
  const exitNs = entries(j.exitNs, 4, (e, exact) => {
    const b = isInt(e.pid) && isInt(e.isa) && isCount(e.reason) ? buckets(e.b) : undefined;
    return b ? (exact ? (e as Entry<'exitNs'>) : { pid: e.pid as number, isa: e.isa as number, reason: e.reason as number, b }) : undefined;
  });
  if (!exitNs) return undefined;
  const faults = entries(j.faults, 3, (e, exact) => (isInt(e.pid) && isCount(e.code) && isCount(e.n) ? (exact ? (e as Entry<'faults'>) : { pid: e.pid, code: e.code, n: e.n }) : undefined));
  if (!faults) return undefined;
  const regions = entries(j.regions, 3, (e, exact) => (isInt(e.pid) && isCount(e.region) && isCount(e.n) ? (exact ? (e as Entry<'regions'>) : { pid: e.pid, region: e.region, n: e.n }) : undefined));
  if (!regions) return undefined;
  const handlers = entries(j.handlers, 4, (e, exact) => {
    const b = isInt(e.pid) && isCount(e.h) && isCount(e.n) ? buckets(e.b) : undefined;
    return b ? (exact ? (e as Entry<'handlers'>) : { pid: e.pid as number, h: e.h as number, n: e.n as number, b }) : undefined;
  });
  if (!handlers) return undefined;
  return { type: 'snapshot', seq: j.seq, t: j.t, ms: j.ms, ...(j.final !== undefined ? { final: j.final } : {}), ...(j.merged !== undefined ? { merged: j.merged } : {}), exits, exitNs, faults, regions, handlers };
}
