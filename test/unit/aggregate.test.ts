import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpftraceOutputParser, type Frame } from '../../src/collector/bpftrace-output.js';
import { DeltaTracker } from '../../src/collector/deltas.js';
import { Aggregate, type Totals } from '../../src/model/aggregate.js';
import type { HelloMessage, SnapshotMessage } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';

const FIX = join(import.meta.dirname, '../fixtures');
const rec = parseRecording(readFileSync(join(FIX, 'recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8'));
const hello = rec.messages[0] as HelloMessage;

/** Snapshot messages from the real bpftrace capture (parser + deltas, as the collector makes them). */
function realSnapshots(): SnapshotMessage[] {
  const frames: Frame[] = [];
  const p = new BpftraceOutputParser();
  p.push(readFileSync(join(FIX, 'bpftrace/mix-3-vcpus-2-npt-on.bpftrace.jsonl'), 'utf8'), (e) => e.kind === 'frame' && frames.push(e.frame));
  p.end(() => undefined);
  const d = new DeltaTracker();
  let t = 0;
  return frames.map((f, seq) => {
    const ms = d.intervalMs(f);
    t += ms;
    return { type: 'snapshot', seq, t, ms, ...d.apply(f) };
  });
}
const exitsOf = (t: Totals): number => [...t.exits.values()].reduce((a, b) => a + b, 0);
const exitsIn = (ss: SnapshotMessage[]): number => ss.reduce((a, s) => a + s.exits.reduce((x, e) => x + e.n, 0), 0);

describe('Aggregate: totals and rolling windows on real snapshots', () => {
  const snaps = realSnapshots();

  it('has enough real intervals to test windows', () => {
    expect(snaps.length).toBeGreaterThan(5);
  });

  it('since start: the sum of every snapshot', () => {
    const a = new Aggregate();
    a.apply(hello);
    for (const s of snaps) a.apply(s);
    expect(exitsOf(a.total)).toBe(exitsIn(snaps));
    expect(a.total.ms).toBe(snaps.reduce((x, s) => x + s.ms, 0));
  });

  it.each([1000, 3000, 5000])('a %i ms window sums the newest snapshots that cover it, no more', (ms) => {
    const a = new Aggregate();
    a.apply(hello);
    for (const s of snaps) a.apply(s);
    const w = a.window(ms);
    // independently: walk back from the newest until the window is covered
    let covered = 0;
    const used: SnapshotMessage[] = [];
    for (const s of [...snaps].reverse()) {
      if (covered >= ms && covered > 0) break;
      used.push(s);
      covered += s.ms;
    }
    expect(exitsOf(w)).toBe(exitsIn(used));
    expect(w.ms).toBe(covered);
  });

  it('memory is bounded by the longest window, not by time: 10,000 intervals keep 61 snapshots', () => {
    const a = new Aggregate(60_000);
    a.apply(hello);
    const one = snaps[2] as SnapshotMessage;
    for (let i = 0; i < 10_000; i++) a.apply({ ...one, seq: i, t: i * 1000, ms: 1000 });
    expect(a.window(Number.MAX_SAFE_INTEGER).ms).toBe(61 * 1000);
    expect(exitsOf(a.total)).toBe(10_000 * exitsIn([one]));
    // keys, not intervals: the totals hold one entry per (pid, tid, isa, reason)
    expect(a.total.exits.size).toBe(one.exits.length);
  });

  it('keeps VM names after the VM is gone', () => {
    const a = new Aggregate();
    for (const m of rec.messages) a.apply(m);
    const vm = rec.messages.find((m) => m.type === 'vm');
    expect(vm).toBeDefined();
    if (vm?.type !== 'vm') return;
    a.apply({ ...vm, event: 'gone', name: '', vcpus: {} });
    expect(a.vmName(vm.pid)).toBe(vm.name);
    expect(a.vms.get(vm.pid)?.gone).toBe(true);
  });
});
