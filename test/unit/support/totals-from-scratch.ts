/**
 * The window's definition, summed afresh, for tests of the running sums (aggregate.test.ts) and of
 * packed snapshots (packed-snapshot.test.ts): both compare against this one reference.
 */
import { addSnapshot, emptyTotals, type ReadonlyTotals, type Totals } from '../../../src/model/aggregate.js';
import type { SnapshotMessage } from '../../../src/protocol/messages.js';

/** The newest snapshots of the ring until they cover `ms` (at least one), summed from nothing. */
export function fromScratch(ring: SnapshotMessage[], ms: number): Totals {
  const t = emptyTotals();
  for (let i = ring.length - 1; i >= 0; i--) {
    if (t.ms >= ms && t.ms > 0) break;
    addSnapshot(t, ring[i] as SnapshotMessage);
  }
  return t;
}

/** Totals as plain Maps for toEqual; empty buckets are not kept by running sums (summaries skip them). */
export const plain = (t: ReadonlyTotals): unknown => ({
  exits: new Map(t.exits),
  faults: new Map(t.faults),
  regions: new Map(t.regions),
  handlerCalls: new Map(t.handlerCalls),
  exitNs: new Map([...t.exitNs].map(([k, h]) => [k, new Map([...h].filter(([, n]) => n > 0))])),
  handlerNs: new Map([...t.handlerNs].map(([k, h]) => [k, new Map([...h].filter(([, n]) => n > 0))])),
  ms: t.ms,
});
