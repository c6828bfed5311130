import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Message, SnapshotMessage } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { bar, compact, duration, fit, percent, sparkline, uptime } from '../../ui/format.js';
import { DashboardStore } from '../../ui/store.js';
import { buildView, INITIAL_UI, nextVm } from '../../ui/view-model.js';

const messages: Message[] = parseRecording(readFileSync(join(import.meta.dirname, '../fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages;
const snapshots = messages.filter((m): m is SnapshotMessage => m.type === 'snapshot');

describe('format', () => {
  it.each([
    [0, '0'], [7, '7'], [2.25, '2.3'], [999, '999'], [9999, '9999'], [12345, '12.3k'], [123456, '123k'], [1.5e6, '1.5M'], [2.5e10, '25G'], [Number.NaN, '-'],
  ])('compact(%d) = %s', (n, s) => expect(compact(n)).toBe(s));
  it.each([
    [undefined, '-'], [512, '512ns'], [16384, '16us'], [2_097_151, '2.1ms'], [33_554_431, '34ms'], [4e9, '4.0s'],
  ])('duration(%s) = %s', (ns, s) => expect(duration(ns)).toBe(s));
  it.each([[0, '0%'], [0.0004, '<0.1%'], [0.275, '27.5%'], [1, '100%']])('percent(%d) = %s', (x, s) => expect(percent(x)).toBe(s));
  it.each([[0, '0s'], [61_000, '1m01s'], [3_723_000, '1h02m']])('uptime(%d) = %s', (ms, s) => expect(uptime(ms)).toBe(s));
  it('fit cuts with an ellipsis or pads, to exactly the width', () => {
    expect(fit('exitscope-workload', 8)).toBe('exitsco…');
    expect(fit('ab', 4, 'right')).toBe('  ab');
    expect(fit('x', 0)).toBe('');
  });
  it('sparkline: exactly width cells, newest right, zero is blank, the peak is a full block', () => {
    expect(sparkline([], 5)).toBe('     ');
    expect(sparkline([0, 0], 3)).toBe('   ');
    const s = sparkline([1, 2, 4, 8], 6);
    expect(s).toHaveLength(6);
    expect(s.at(-1)).toBe('█');
    expect(sparkline(Array.from({ length: 100 }, (_, i) => i), 10)).toHaveLength(10);
  });
  it('sparkline: a history longer than the cells is averaged, not cut (60 s in 12 cells)', () => {
    const busyThenIdle = [...new Array<number>(30).fill(500), ...new Array<number>(30).fill(0)];
    const s = sparkline(busyThenIdle, 12);
    expect(s.slice(0, 6)).toBe('██████');
    expect(s.slice(6)).toBe('      ');
  });
  it('bar: proportional with eighths, never longer than width, empty for nothing', () => {
    expect(bar(0, 10, 8)).toBe('');
    expect(bar(10, 10, 8)).toBe('████████');
    expect(bar(5, 10, 8)).toBe('████');
    expect(bar(1, 1000, 8)).toBe('▏');
  });
});

describe('DashboardStore', () => {
  it('notifies at most maxFps times a second, and never drops the last change', async () => {
    let now = 0;
    const store = new DashboardStore('live', 10, () => now);
    let calls = 0;
    store.subscribe(() => calls++);
    // all at t=0: the hello now, the first snapshot now (its own budget), the rest once, deferred
    for (const m of messages) store.apply(m);
    expect(calls).toBe(2);
    now = 100;
    await new Promise((r) => setTimeout(r, 150));
    expect(calls).toBe(3);
    expect(store.getSnapshot().agg.snapshots).toBe(snapshots.length);
  });

  it("a VM's name drawn just before does not hold the next snapshot's counts back; snapshots keep their own budget", async () => {
    let now = 0;
    const store = new DashboardStore('live', 10, () => now);
    let calls = 0;
    store.subscribe(() => calls++);
    const vm = messages.find((m) => m.type === 'vm') as Message;
    store.apply(messages[0] as Message); // hello: drawn
    store.apply(snapshots[0] as SnapshotMessage); // the first snapshot: drawn
    expect(calls).toBe(2);
    now = 1000;
    store.apply(vm); // a new VM's name: drawn
    expect(calls).toBe(3);
    now = 1010;
    store.apply(snapshots[1] as SnapshotMessage); // its counts, 10 ms later: drawn at once, not 90 ms on
    expect(calls).toBe(4);
    expect(store.getSnapshot().agg.snapshots).toBe(2);
    now = 1050;
    store.apply(snapshots[2] as SnapshotMessage); // 40 ms after the last snapshot's frame: waits for its slot
    expect(calls).toBe(4);
    now = 1110;
    await new Promise((r) => setTimeout(r, 150));
    expect(calls).toBe(5);
    expect(store.getSnapshot().agg.snapshots).toBe(3);
  });

  it('pause freezes what views see; collection goes on; resume shows it all', () => {
    const store = new DashboardStore('live', 1000);
    store.apply(messages[0] as Message);
    store.apply(snapshots[0] as SnapshotMessage);
    store.togglePause();
    const frozen = store.getSnapshot();
    expect(frozen.paused).toBe(true);
    store.apply(snapshots[1] as SnapshotMessage);
    expect(store.getSnapshot().agg.snapshots).toBe(1);
    expect(store.model.snapshots).toBe(2);
    store.togglePause();
    expect(store.getSnapshot().agg.snapshots).toBe(2);
  });

  it('reset keeps what happened to the stream: its end, lost events, gaps', () => {
    const store = new DashboardStore('live', 1000);
    for (const m of messages) store.apply(m);
    store.apply({ type: 'lost', t: 1, events: 7 });
    store.reset();
    const a = store.getSnapshot().agg;
    expect(a.ended).toMatchObject({ complete: true });
    expect(a.lost).toBe(7);
  });

  it('reset counts from zero but keeps the hello and the VM names', () => {
    const store = new DashboardStore('live', 1000);
    for (const m of messages) store.apply(m);
    store.reset();
    const a = store.getSnapshot().agg;
    expect(a.snapshots).toBe(0);
    expect(a.total.exits.size).toBe(0);
    expect(a.hello?.host).toBe('exitscope-lab');
    expect(a.vmName(208)).toBe('exitscope-workload');
  });
});

describe('view model', () => {
  const store = new DashboardStore('replay', 1000);
  for (const m of messages) store.apply(m);
  const view = (ui = {}) => buildView(store.model, { ...INITIAL_UI, windowSeconds: 60, ...ui }, { paused: false, self: undefined, source: 'replay' });

  it('v cycles: all VMs, each VM, all again', () => {
    const v = view();
    expect(nextVm(v, undefined)).toBe(208);
    expect(nextVm(v, 208)).toBeUndefined();
  });
  it('v goes through VMs in a stable order, however their rates change', () => {
    const v = view();
    const vms = (rates: number[]) => ({ ...v, vms: [300, 100, 200].map((pid, i) => ({ pid, name: `vm${pid}`, rate: rates[i] ?? 0, selected: false, gone: false })) });
    const seen: (number | undefined)[] = [];
    let cur: number | undefined;
    for (const rates of [[3, 2, 1], [1, 3, 2], [2, 1, 3], [3, 2, 1]]) {
      cur = nextVm(vms(rates), cur);
      seen.push(cur);
    }
    expect(seen).toEqual([100, 200, 300, undefined]);
  });
  it('a VM that is not there (gone, or a stale selection) falls back to all VMs', () => {
    expect(view({ vm: 99999 }).header.vmLabel).toBe('all VMs');
  });
  it('the filter matches names and codes; sorting is stable', () => {
    expect(view({ filter: 'hlt' }).reasons.rows.map((r) => r.name)).toEqual(['HLT']);
    expect(view({ filter: '0x7b' }).reasons.rows.map((r) => r.name)).toEqual(['IOIO']);
    const byName = view({ sort: 'name', sortDesc: false }).reasons.rows.map((r) => r.name);
    expect(byName).toEqual([...byName].sort());
  });
  it('rates are counts over the window actually covered', () => {
    const v = view();
    const total = v.reasons.rows.reduce((a, r) => a + r.count, 0);
    expect(v.header.exitsPerSecond).toBeCloseTo(total / (v.header.windowCoveredMs / 1000), 6);
  });
});
