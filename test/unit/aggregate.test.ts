import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpftraceOutputParser, type Frame } from '../../src/collector/bpftrace-output.js';
import { DeltaTracker } from '../../src/collector/deltas.js';
import { Aggregate, type ReadonlyTotals } from '../../src/model/aggregate.js';
import type { HelloMessage, SnapshotMessage } from '../../src/protocol/messages.js';
import { fromScratch, plain } from './support/totals-from-scratch.js';
import { parseRecording } from '../../src/recording/recording.js';
import { buildReport } from '../../src/report/report.js';

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
const exitsOf = (t: ReadonlyTotals): number => [...t.exits.values()].reduce((a, b) => a + b, 0);
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

describe('Aggregate: windows kept as running sums equal sums from scratch', () => {

  it('on varied snapshots (lengths, keys coming and going, zero counts), asked at every step and now and then', () => {
    let seed = 12345;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const real = realSnapshots();
    const a = new Aggregate(10_000);
    a.apply(hello);
    const ring: SnapshotMessage[] = [];
    const keep = Math.ceil(10_000 / hello.intervalMs) + 1;
    for (let i = 0; i < 400; i++) {
      const base = real[rnd(real.length)] as SnapshotMessage;
      const s: SnapshotMessage = { ...base, seq: i, t: i * 1000, ms: rnd(4) === 0 ? 0 : 200 + rnd(3000), exits: base.exits.filter(() => rnd(3) > 0).map((e) => ({ ...e, n: rnd(5) === 0 ? 0 : e.n })) };
      a.apply(s);
      ring.push(s);
      if (ring.length > keep) ring.shift();
      for (const ms of [1000, 10_000, 60_000, 0]) if (ms === 1000 || rnd(7) === 0) expect(plain(a.window(ms)), `snapshot ${i}, window ${ms}`).toEqual(plain(fromScratch(ring, ms)));
    }
  });

  it('a clone gets its own windows: the original goes on, the copy stays', () => {
    const a = new Aggregate();
    a.apply(hello);
    const snaps = realSnapshots();
    for (const s of snaps.slice(0, 3)) a.apply(s);
    const before = plain(a.window(5000));
    const frozen = a.clone();
    for (const s of snaps.slice(3)) a.apply(s);
    expect(plain(frozen.window(5000))).toEqual(before);
    expect(plain(a.window(5000))).toEqual(plain(fromScratch(snaps, 5000)));
  });
});

describe('Aggregate: gone VMs of a long run are folded, totals stay exact', () => {
  const snapOf = (seq: number, pid: number, n: number): SnapshotMessage => ({
    type: 'snapshot',
    seq,
    t: seq * 1000,
    ms: 1000,
    exits: [
      { pid, tid: pid + 1, isa: 2, reason: 0x7b, n },
      { pid, tid: pid + 2, isa: 2, reason: 0x72, n: 1 },
    ],
    exitNs: [{ pid, isa: 2, reason: 0x7b, b: [[1024, n]] }],
    faults: [{ pid, code: 6, n: 2 }],
    regions: [{ pid, region: 3, n: 2 }],
    handlers: [{ pid, h: 0, n: 2, b: [[2048, 2]] }],
  });
  const vm = (pid: number, event: 'appeared' | 'gone') => ({ type: 'vm' as const, event, t: 0, pid, name: `ci-${pid}`, source: 'qemu' as const, vcpus: {} });

  it('5,000 short-lived VMs with a cap of 100: at most 2 x 100 gone VMs by name, the rest in one entry, every sum exact', () => {
    const a = new Aggregate(0, 100);
    a.apply(hello);
    let exits = 0;
    for (let i = 0; i < 5000; i++) {
      const pid = 10_000 + 3 * i;
      a.apply(vm(pid, 'appeared'));
      a.apply(snapOf(i, pid, 1 + (i % 7)));
      exits += 1 + (i % 7) + 1;
      a.apply(vm(pid, 'gone'));
      expect(a.vms.size).toBeLessThanOrEqual(2 * 100 + 2);
    }
    expect(a.foldedVms).toBeGreaterThan(4000);
    expect(a.vms.get(0)).toMatchObject({ pid: 0, gone: true, source: 'folded', name: `${a.foldedVms} earlier VMs` });
    expect(exitsOf(a.total)).toBe(exits);
    // per reason, and the other maps, exact too
    let ioio = 0;
    a.total.exits.forEachExit((n, _pid, _tid, _isa, reason) => void (reason === 0x7b && (ioio += n)));
    expect(ioio).toBe(exits - 5000);
    expect([...a.total.faults.values()].reduce((x, y) => x + y, 0)).toBe(2 * 5000);
    expect(a.total.regions.get('0,3')).toBe(2 * a.foldedVms);
    expect(a.total.handlerNs.get('0,0')?.get(2048)).toBe(2 * a.foldedVms);
    // bounded: the folded VMs left one key per reason, not one per thread
    expect(a.total.exits.size).toBeLessThanOrEqual(2 * (2 * 100 + 1));
    const r = buildReport(a);
    expect(r.totalExits).toBe(exits);
    expect(r.vms.find((v) => v.pid === 0)?.name).toBe(`${a.foldedVms} earlier VMs`);
  });

  it('a pid that comes back as a new VM is not folded with the old one\'s entries', () => {
    const a = new Aggregate(0, 1);
    a.apply(hello);
    a.apply(vm(50, 'appeared'));
    a.apply(snapOf(0, 50, 5));
    a.apply(vm(50, 'gone'));
    a.apply(vm(50, 'appeared')); // pid reused
    for (let i = 1; i <= 3; i++) {
      a.apply(vm(100 + i, 'appeared'));
      a.apply(vm(100 + i, 'gone'));
    }
    expect(a.vms.get(50)?.gone).toBe(false);
    expect(a.total.exits.getOf(50, 51, 2, 0x7b)).toBe(5);
  });
});
