/**
 * `exitscope lab --run CMD` and `exitscope lab` (a shell): boot, run, stream
 * the output, power off, and return the command's exit status.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { UserError } from '../errors.js';
import { bootLab, type LabOptions } from './boot.js';
import { WholeLines } from './whole-lines.js';

export interface RunOptions extends LabOptions {
  /** Seconds after which the guest is stopped; undefined for no limit. */
  timeoutSeconds?: number;
}

/** Exit status used when the lab was interrupted (as a shell reports SIGINT). */
export const INTERRUPTED_STATUS = 130;

export async function runInLab(o: RunOptions, io: { stdout: Writable; stderr: Writable }): Promise<number> {
  const lab = await bootLab(o);
  const drained: Promise<unknown>[] = [];
  const gates: WholeLines[] = [];
  for (const [from, to] of [
    [lab.stdout, io.stdout],
    [lab.stderr, io.stderr],
  ] as const) {
    if (!from) continue;
    // whole lines: one of stdout is not cut by one of stderr on the user's terminal
    const gate = new WholeLines((b) => to.write(b));
    gates.push(gate);
    from.on('data', (b: Buffer) => gate.push(b));
    drained.push(once(from, 'close').catch(() => undefined).then(() => gate.flush()));
  }

  let stopReason: 'signal' | 'timeout' | undefined;
  const stop = (why: 'signal' | 'timeout') => () => {
    stopReason = why;
    lab.kill();
  };
  const onSignal = stop('signal');
  // In shell mode the terminal is raw and Ctrl-C goes to the guest, not to us.
  if (o.mode !== 'shell') {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const timer = o.timeoutSeconds ? setTimeout(stop('timeout'), o.timeoutSeconds * 1000) : undefined;
  try {
    try {
      await lab.ready;
    } catch (e) {
      lab.kill();
      await lab.exited;
      if (stopReason) return stopped(stopReason, o.timeoutSeconds);
      throw e;
    }
    await lab.exited;
    await Promise.race([Promise.all(drained), new Promise((r) => setTimeout(r, 2000))]);
    if (stopReason) return stopped(stopReason, o.timeoutSeconds);
    const status = lab.status();
    if (status === undefined)
      throw new UserError(
        'LAB_NO_STATUS',
        `the guest stopped without reporting the command's exit status (out of memory, or a kernel panic?)\n  ${lab.emulatorEnd()}\n  guest console (last lines):\n${lab.consoleTail().replace(/^/gm, '    ')}`,
        'retry with more --memory, or look at ~/.cache/exitscope/lab/last-console.log and last-qemu.log',
      );
    return status;
  } finally {
    for (const g of gates) g.flush();
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    lab.cleanup();
  }
}

/** A run ended by us: a timeout is an error with its fix; a signal is the interrupted status. */
export function stopped(why: 'signal' | 'timeout', timeoutSeconds: number | undefined): number {
  if (why === 'timeout')
    throw new UserError('LAB_TIMEOUT', `the command did not finish within --timeout ${timeoutSeconds}s; the guest was stopped`, 'raise --timeout, or make the command shorter');
  return INTERRUPTED_STATUS;
}
