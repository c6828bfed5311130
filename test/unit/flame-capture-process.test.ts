/**
 * The flame capture's process handling, with a bpftrace stand-in that replays a real lab capture:
 * the stacks arrive when the program's time is up (it ends itself), an abort gives nothing, a stuck bpftrace is given up on with a
 * clear error, a dying one is reported, and no temporary directory is left behind.
 */
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureFlame, type CaptureOptions, RESOLVE_TIMEOUT_MS, resolveDeadlineMs } from '../../src/flame/capture.js';
import { UserError } from '../../src/errors.js';
import { usePrivateTmpdir } from './support/private-tmpdir.js';

const FAKE = join(import.meta.dirname, 'support/fake-bpftrace-flame.mjs');
usePrivateTmpdir('flame-capture-test-');
const tempDirs = (): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith('exitscope-flame-'));

function opts(mode: string, more: Partial<CaptureOptions> = {}): CaptureOptions {
  process.env.FAKE_FLAME_MODE = mode;
  return { seconds: 0.3, hz: 99, pids: [], scope: 'all VMs', reasons: true, userStacks: true, bpftrace: FAKE, kernel: 'test', kallsyms: '/nonexistent', ...more };
}

describe('captureFlame with a bpftrace stand-in', () => {
  it('samples for the time asked, then ends itself: the stacks of the real capture, progress in order', async () => {
    const before = tempDirs();
    const phases: string[] = [];
    const c = await captureFlame(opts('normal', { onProgress: (p) => phases.push(p.phase) }));
    expect(c?.profile.samples).toBe(249);
    expect(c?.raw.some((l) => l.includes('"@stacks"'))).toBe(true);
    expect(phases[0]).toBe('attaching');
    expect(phases.at(-1)).toBe('resolving');
    expect(phases).toContain('sampling');
    expect(tempDirs()).toEqual(before);
  });

  it('aborted while sampling: resolves to nothing', async () => {
    const abort = new AbortController();
    // aborted once sampling has begun (not after a fixed time: it might still be attaching)
    const onProgress = (p: { phase: string }): void => {
      if (p.phase === 'sampling') abort.abort();
    };
    expect(await captureFlame(opts('normal', { seconds: 5, signal: abort.signal, onProgress }))).toBeUndefined();
  });

  it('a bpftrace that never attaches is given up on: FLAME_FAILED saying so', async () => {
    const e = await captureFlame(opts('never-attaches', { attachTimeoutMs: 300 })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe('FLAME_FAILED');
    expect((e as UserError).message).toMatch(/did not start sampling within/);
  });

  it('a bpftrace that never prints once the time is up is given up on too', async () => {
    const e = await captureFlame(opts('never-prints', { resolveTimeoutMs: 300 })).catch((x: unknown) => x);
    expect((e as UserError).code).toBe('FLAME_FAILED');
    expect((e as UserError).message).toMatch(/did not print the stacks within/);
  });

  it('the time to print grows with the time attaching took (a slow machine is not a stuck bpftrace)', () => {
    expect(resolveDeadlineMs(1_500)).toBe(RESOLVE_TIMEOUT_MS); // real hardware: attaching takes a second or two
    expect(resolveDeadlineMs(100_000)).toBe(400_000); // an emulated CPU under load
    expect(resolveDeadlineMs(10, 300)).toBe(300);
  });

  it('a bpftrace that dies: FLAME_FAILED with its last lines; no temporary directory left', async () => {
    const before = tempDirs();
    const e = await captureFlame(opts('dies')).catch((x: unknown) => x);
    expect((e as UserError).code).toBe('FLAME_FAILED');
    expect((e as UserError).message).toMatch(/exited with status 1[\s\S]*something broke/);
    expect(tempDirs()).toEqual(before);
  });

  it('a bad option throws before anything is created', async () => {
    const before = tempDirs();
    await expect(captureFlame(opts('normal', { hz: 0 }))).rejects.toThrow(RangeError);
    expect(tempDirs()).toEqual(before);
  });
});
