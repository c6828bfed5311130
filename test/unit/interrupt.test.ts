/**
 * Our signal handler (commands/live.ts): the first SIGINT/SIGTERM stops in order and the handler
 * stays ours until the stop is done; a second one exits at once with the shell's status.
 * Signals are delivered with process.emit: the listeners run exactly as for a real signal.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Live, waitForEnd } from '../../src/commands/live.js';

function fakeLive(): { live: Live; finishStop: () => void; stops: () => number } {
  let finishStop!: () => void;
  let stops = 0;
  const stopped = new Promise<void>((r) => {
    finishStop = r;
  });
  const live = {
    agg: { ended: false },
    stop: () => {
      stops++;
      return stopped;
    },
  } as unknown as Live;
  return { live, finishStop, stops: () => stops };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('waitForEnd and the signals', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s: resolves "interrupt", the stop starts, and our handler stays until it is done', async (sig) => {
    const before = process.listenerCount(sig);
    const { live, finishStop, stops } = fakeLive();
    const waiting = waitForEnd(live, undefined);
    expect(process.listenerCount(sig)).toBe(before + 1);
    process.emit(sig, sig);
    expect(await waiting).toBe('interrupt');
    expect(stops()).toBe(1);
    // while the final totals are read, the signal is still ours (not the default action, nobody else's)
    expect(process.listenerCount(sig)).toBe(before + 1);
    finishStop();
    await new Promise((r) => setImmediate(r));
    expect(process.listenerCount(sig)).toBe(before);
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('a second %s during the stop exits at once with %i', async (sig, status) => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const { live, finishStop } = fakeLive();
    const waiting = waitForEnd(live, undefined);
    process.emit(sig, sig);
    await waiting;
    expect(exit).not.toHaveBeenCalled();
    process.emit(sig, sig);
    expect(exit).toHaveBeenCalledWith(status);
    finishStop();
    await new Promise((r) => setImmediate(r));
  });

  it('ending by itself or by duration removes the handler at once', async () => {
    const before = process.listenerCount('SIGTERM');
    const { live } = fakeLive();
    expect(await waitForEnd(live, 0)).toBe('duration');
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
