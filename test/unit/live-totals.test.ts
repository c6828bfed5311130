/**
 * startLiveIn's `totals: false` (the exporter's): Live.agg is fed everything but snapshots (its end,
 * hello, errors stay true), while the caller still gets every message. Run on the bpftrace stand-in.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLiveIn } from '../../src/commands/live.js';
import type { Message } from '../../src/protocol/messages.js';
import { fakeCaps } from './support/fake-caps.js';

const FAKE = join(import.meta.dirname, 'support/fake-bpftrace.mjs');

async function collect(totals: boolean | undefined): Promise<{ snapshots: number; aggSnapshots: number; ended: boolean; hello: boolean }> {
  const got: Message[] = [];
  const live = await startLiveIn({ interval: 1000, pid: [], reason: [], notify: () => undefined, ...(totals !== undefined ? { totals } : {}) }, (m) => got.push(m), fakeCaps(FAKE), [], [], undefined);
  // the stand-in prints a frame every 30 ms
  while (got.filter((m) => m.type === 'snapshot').length < 3) await new Promise((r) => setTimeout(r, 20));
  await live.stop();
  return { snapshots: got.filter((m) => m.type === 'snapshot').length, aggSnapshots: live.agg.snapshots, ended: live.agg.ended !== undefined, hello: live.agg.hello !== undefined };
}

describe('startLiveIn totals', () => {
  it('false: the caller gets the snapshots, Live.agg none of them, but its hello and end', async () => {
    const r = await collect(false);
    expect(r.snapshots).toBeGreaterThanOrEqual(3);
    expect(r.aggSnapshots).toBe(0);
    expect(r.ended).toBe(true);
    expect(r.hello).toBe(true);
  });

  it('by default Live.agg gets every snapshot the caller gets', async () => {
    const r = await collect(undefined);
    expect(r.aggSnapshots).toBe(r.snapshots);
    expect(r.ended).toBe(true);
  });
});
