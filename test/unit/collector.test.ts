/**
 * The collector's handling of its bpftrace process, with a stand-in that replays a real capture
 * (test/unit/support/fake-bpftrace.mjs). The real bpftrace in a real KVM is test/e2e's job.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Collector } from '../../src/collector/collector.js';
import type { Message } from '../../src/protocol/messages.js';
import { fakeCaps } from './support/fake-caps.js';
import { until } from './support/ink-wait.js';
import { usePrivateTmpdir } from './support/private-tmpdir.js';

const FAKE = join(import.meta.dirname, 'support/fake-bpftrace.mjs');
const caps = fakeCaps(FAKE);
usePrivateTmpdir('collector-test-');
const ours = (): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith('exitscope-'));

function collect(mode: string, maxRestarts = 3) {
  process.env.FAKE_BPFTRACE_MODE = mode;
  process.env.FAKE_BPFTRACE_STATE = join(mkdtempSync(join(tmpdir(), 'fake-state-')), 'ran');
  const messages: Message[] = [];
  const c = new Collector({ caps, intervalMs: 1000, maxRestarts, onMessage: (m) => messages.push(m), proc: '/nonexistent' });
  return { c, messages, types: () => messages.map((m) => m.type) };
}
/** A collector on the stand-in in this mode, stopped after four snapshots: its messages and what it said. */
async function fourSnapshotsSaying(mode: string): Promise<{ messages: Message[]; said: string[] }> {
  process.env.FAKE_BPFTRACE_MODE = mode;
  process.env.FAKE_BPFTRACE_STATE = join(mkdtempSync(join(tmpdir(), 'fake-state-')), 'ran');
  const messages: Message[] = [];
  const said: string[] = [];
  const c = new Collector({ caps, intervalMs: 1000, onMessage: (m) => messages.push(m), onDiagnostic: (l) => said.push(l), proc: '/nonexistent' });
  await c.start();
  await until(() => messages.filter((m) => m.type === 'snapshot').length >= 4, 'four snapshots');
  await c.stop();
  return { messages, said };
}
const exitsIn = (ms: Message[]): number => ms.reduce((a, m) => a + (m.type === 'snapshot' ? m.exits.reduce((x, e) => x + e.n, 0) : 0), 0);

/** Resolves once the collector has handled its bpftrace's exit (restart scheduled, or not). */
const exitHandled = (c: Collector): Promise<void> => {
  const p = (c as unknown as { exitPromise?: Promise<void> }).exitPromise;
  if (!p) throw new Error('Collector has no `exitPromise` any more: update this test');
  return p;
};

afterEach(() => {
  vi.useRealTimers();
  delete process.env.FAKE_BPFTRACE_MODE;
});

describe('Collector and its bpftrace', () => {
  it('stop: the final totals are read before the end, and the stream ends once', async () => {
    const { c, messages, types } = collect('normal');
    await c.start();
    await until(() => types().includes('snapshot'), 'a first snapshot');
    await c.stop();
    await c.stop();
    expect(types()[0]).toBe('hello');
    expect(types().filter((t) => t === 'end')).toHaveLength(1);
    expect(messages.at(-1)).toMatchObject({ type: 'end', complete: true });
    const finals = messages.filter((m) => m.type === 'snapshot' && m.final);
    expect(finals).toHaveLength(1);
    expect(types().indexOf('end')).toBe(types().length - 1);
  });

  it("a map update that failed in the kernel (bpftrace 0.23's helper_error): a lost event each, said once", async () => {
    const { messages, said } = await fourSnapshotsSaying('helper-error');
    const lost = messages.filter((m) => m.type === 'lost');
    expect(lost).toHaveLength(3);
    for (const m of lost) expect(m).toMatchObject({ type: 'lost', events: 1 });
    const about = said.filter((l) => l.includes('map_update_elem'));
    expect(about).toHaveLength(1);
    expect(about[0]).toMatch(/^bpftrace: map_update_elem failed in the kernel \(File exists, -17\): a count was not kept, counted as lost: @faults\d\[pid, \$code\] = count\(\);$/);
  });

  it('a failed map update on a line that counts nothing (not a counting map): no lost event, said once', async () => {
    const { messages, said } = await fourSnapshotsSaying('helper-error-other');
    expect(messages.filter((m) => m.type === 'lost')).toHaveLength(0);
    const about = said.filter((l) => l.includes('map_update_elem'));
    expect(about).toHaveLength(1);
    expect(about[0]).not.toContain('counted as lost');
  });

  it('exit counts by VM on a bpftrace that needs keys by thread (0.23): the program keys by thread, the stream has tid 0, the same totals', async () => {
    process.env.FAKE_BPFTRACE_MODE = 'normal';
    process.env.FAKE_BPFTRACE_STATE = join(mkdtempSync(join(tmpdir(), 'fake-state-')), 'ran');
    const run = async (byThread: boolean, minor: number): Promise<Message[]> => {
      const messages: Message[] = [];
      const c = new Collector({ caps: { ...caps, bpftrace: { path: FAKE, version: `0.${minor}.0`, major: 0, minor } }, intervalMs: 1000, exitsByThread: byThread, onMessage: (m) => messages.push(m), proc: '/nonexistent' });
      await c.start();
      await until(() => messages.filter((m) => m.type === 'snapshot').length >= 3, 'three snapshots');
      await c.stop();
      return messages;
    };
    const byVm = await run(false, 23);
    const snaps = byVm.filter((m): m is Extract<Message, { type: 'snapshot' }> => m.type === 'snapshot');
    expect(snaps.flatMap((m) => m.exits).every((e) => e.tid === 0)).toBe(true);
    // one entry per VM, ISA and reason
    for (const m of snaps) expect(new Set(m.exits.map((e) => `${e.pid},${e.isa},${e.reason}`)).size).toBe(m.exits.length);
    expect(exitsIn(byVm)).toBeGreaterThan(0);
    // the stand-in replays the same capture each time: the same totals as by thread
    const byThread = await run(true, 23);
    expect(byThread.filter((m): m is Extract<Message, { type: 'snapshot' }> => m.type === 'snapshot').flatMap((m) => m.exits).some((e) => e.tid !== 0)).toBe(true);
  });

  it('bpftrace dies: restarted, the gap marked, counting goes on', async () => {
    const { c, messages, types } = collect('crash');
    await c.start();
    await until(() => types().includes('gap'), 'the gap', 20_000);
    expect(messages.find((m) => m.type === 'gap')).toMatchObject({ resumed: true, reason: 'bpftrace exited with status 1' });
    const before = exitsIn(messages);
    await until(() => exitsIn(messages) > before, 'exits counted by the restarted bpftrace');
    await c.stop();
    expect(types().filter((t) => t === 'end')).toHaveLength(1);
  });

  it('gives up after maxRestarts: gap not resumed, an error, one end; stop() adds nothing', async () => {
    const { c, messages, types } = collect('crash-always', 1);
    await c.start();
    await until(() => types().includes('end'), 'the end', 20_000);
    expect(messages.filter((m) => m.type === 'gap').at(-1)).toMatchObject({ resumed: false });
    expect(messages.find((m) => m.type === 'error')).toMatchObject({ code: 'BPFTRACE_DIED' });
    const n = messages.length;
    await c.stop();
    expect(messages.length).toBe(n);
    expect(types().filter((t) => t === 'end')).toHaveLength(1);
  });

  it('Ctrl-C reaching bpftrace too (interrupted): no restart, no gap', async () => {
    const { c, types } = collect('normal');
    await c.start();
    await until(() => types().includes('snapshot'), 'a first snapshot');
    const pid = c.bpftracePid;
    // the collector's timers (the grace period, the restart's back-off) run on a fake clock: no
    // sleeping through them, and none is left out however slow the machine
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    c.interrupted();
    process.kill(pid as number, 'SIGINT');
    await exitHandled(c);
    await vi.runAllTimersAsync(); // the grace period, and a restart's back-off if one were scheduled
    vi.useRealTimers();
    expect(c.bpftracePid).toBe(pid); // no new bpftrace was started
    await c.stop();
    expect(types()).not.toContain('gap');
    expect(types().at(-1)).toBe('end');
  });

  it('an orderly bpftrace exit that nobody asked for is restarted after a grace period', async () => {
    const { c, messages, types } = collect('normal');
    await c.start();
    await until(() => types().includes('snapshot'), 'a first snapshot');
    process.kill(c.bpftracePid as number, 'SIGINT');
    await until(() => types().includes('gap'), 'the gap (after the grace period and the restart)', 20_000);
    expect(messages.find((m) => m.type === 'gap')).toMatchObject({ resumed: true });
    await c.stop();
  });

  it('a failed start: a clear error, and nothing left behind in /tmp', async () => {
    const before = ours().length;
    const { c } = collect('eperm');
    await expect(c.start()).rejects.toMatchObject({ code: 'BPFTRACE_PERMISSION' });
    expect(ours().length).toBe(before);
  });
});

describe('Collector: the epoch waiting for a clear, told from its rhythm (program.ts rotateEvery)', () => {
  /** What a collector at this interval says, given frames with these active copies ('-': nothing cleared). */
  function saidFor(intervalMs: number, frames: [number, number | undefined][]): string[] {
    const said: string[] = [];
    const c = new Collector({ caps, intervalMs, onMessage: () => undefined, onDiagnostic: (l) => said.push(l), proc: '/nonexistent' });
    const check = (c as unknown as { checkEpoch?: (f: object) => void }).checkEpoch?.bind(c);
    if (!check) throw new Error('Collector has no `checkEpoch` any more: update this test');
    frames.forEach(([active, cleared], i) => check({ final: false, tNs: i, active, ...(cleared !== undefined ? { cleared } : {}) }));
    return said;
  }
  /** Frames of a kernel whose epoch moves every `every` intervals, for `n` intervals (copies 0..2). */
  const rhythm = (every: number, n: number): [number, number | undefined][] =>
    Array.from({ length: n }, (_, i) => {
      const e = Math.floor(i / every) % 3;
      return [e, i >= every && i % every === 0 ? (e + 2) % 3 : undefined];
    });

  it('-i 250: the epoch moving every 4th interval is the rhythm, not a wait', () => {
    expect(saidFor(250, rhythm(4, 40))).toEqual([]);
  });

  it('-i 250: a fifth interval in the same copy is a wait, said once', () => {
    const frames = rhythm(4, 8);
    // the epoch stays in copy 1 for a fifth interval, then moves on
    frames.push([1, undefined], [2, 1], [2, undefined]);
    const said = saidFor(250, frames);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/the epoch waited for bpftrace to clear a copy of its maps \(1 time\(s\)\); counts stay exact/);
  });

  it('-i 1000: the same rhythm of every 4th interval is three waits per move, said once', () => {
    expect(saidFor(1000, rhythm(1, 10))).toEqual([]);
    expect(saidFor(1000, rhythm(4, 12))).toHaveLength(1);
  });
});
