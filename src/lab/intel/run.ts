/**
 * `exitscope lab --vendor intel --run CMD`: boot Bochs, stream the command's output, copy back
 * what it wrote in the current directory, and return its exit status (from the guest's serial
 * marker: Bochs' own status says nothing).
 */
import type { Writable } from 'node:stream';
import { UserError } from '../../errors.js';
import { stopped } from '../run-command.js';
import { bootIntelLab, type IntelLabOptions } from './boot.js';
import { copyBack } from './copy-back.js';

export interface IntelRunOptions extends IntelLabOptions {
  /** Seconds after which the guest is stopped; undefined for no limit. */
  timeoutSeconds?: number;
}

export async function runInIntelLab(o: IntelRunOptions, io: { stdout: Writable; stderr: Writable }): Promise<number> {
  const lab = await bootIntelLab(o);
  lab.onOutput(
    (b) => io.stdout.write(b),
    (b) => io.stderr.write(b),
  );
  let stopReason: 'signal' | 'timeout' | undefined;
  const stop = (why: 'signal' | 'timeout') => () => {
    stopReason = why;
    lab.kill();
  };
  const onSignal = stop('signal');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
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
    lab.drain();
    if (stopReason) return stopped(stopReason, o.timeoutSeconds);
    const status = lab.status();
    if (status === undefined)
      throw new UserError(
        'LAB_NO_STATUS',
        `the guest stopped without reporting the command's exit status (out of memory, or a kernel panic?)\n  guest console (last lines):\n${lab.consoleTail().replace(/^/gm, '    ')}`,
        'retry with more --memory, or look at ~/.cache/exitscope/lab/last-console.log',
      );
    const failure = lab.failure();
    if (failure) throw failure;
    const files = lab.copied();
    if (files !== undefined && files > 0) {
      const written = copyBack(lab.outDisk, o.cwd);
      o.progress(`[lab] copied back ${written.length} file${written.length === 1 ? '' : 's'} the command wrote in ${o.cwd}`);
    }
    return status;
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    lab.cleanup();
  }
}

