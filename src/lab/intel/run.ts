/**
 * `exitscope lab --vendor intel --run CMD`: boot Bochs, stream the command's output, copy back
 * what it wrote in the current directory (also when it was stopped by --timeout or Ctrl-C), and
 * return its exit status (from the guest's serial marker: Bochs' own status says nothing).
 */
import type { Writable } from 'node:stream';
import { UserError } from '../../errors.js';
import { stopped } from '../run-command.js';
import { WholeLines } from '../whole-lines.js';
import { bootIntelLab, type IntelLabOptions } from './boot.js';
import { copyBack } from './copy-back.js';

export interface IntelRunOptions extends IntelLabOptions {
  /** Seconds after which the command is stopped; undefined for no limit. */
  timeoutSeconds?: number;
}

/**
 * Host seconds a stopped command may take to end and be copied back before Bochs is killed: the
 * guest's grace (stop-request.ts) is in guest seconds, which run slower than the host's, and much
 * slower on a loaded machine.
 */
export const STOP_BACKSTOP_SECONDS = 600;

export async function runInIntelLab(o: IntelRunOptions, io: { stdout: Writable; stderr: Writable }): Promise<number> {
  const lab = await bootIntelLab(o);
  // a line of the command's stdout is not cut by one of its stderr on the user's terminal
  const out = new WholeLines((b) => io.stdout.write(b));
  const err = new WholeLines((b) => io.stderr.write(b));
  lab.onOutput(
    (b) => out.push(b),
    (b) => err.push(b),
  );
  let ready = false;
  let stopReason: 'signal' | 'timeout' | undefined;
  let backstop: NodeJS.Timeout | undefined;
  // The first stop (a timeout, SIGINT, SIGTERM) asks the guest to stop the command, so that what
  // it wrote still comes back; during the boot there is nothing to keep. A second signal, or the
  // backstop, stops Bochs at once.
  const stop = (why: 'signal' | 'timeout') => () => {
    if (stopReason !== undefined || !ready) {
      stopReason ??= why;
      lab.kill();
      return;
    }
    stopReason = why;
    lab.requestStop();
    o.progress(`[lab] ${why === 'timeout' ? `--timeout ${o.timeoutSeconds}s reached` : 'interrupted'}: stopping the command in the guest, then copying back what it wrote (Ctrl-C again to stop at once)`);
    backstop = setTimeout(() => lab.kill(), STOP_BACKSTOP_SECONDS * 1000);
  };
  const onSignal = stop('signal');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timer = o.timeoutSeconds ? setTimeout(stop('timeout'), o.timeoutSeconds * 1000) : undefined;
  try {
    try {
      await lab.ready;
      ready = true;
    } catch (e) {
      lab.kill();
      await lab.exited;
      if (stopReason) return stopped(stopReason, o.timeoutSeconds);
      throw e;
    }
    await lab.exited;
    lab.drain();
    out.flush();
    err.flush();
    const status = lab.status();
    if (status === undefined && !stopReason)
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
    if (stopReason) return stopped(stopReason, o.timeoutSeconds);
    return status as number;
  } finally {
    out.flush();
    err.flush();
    if (timer) clearTimeout(timer);
    if (backstop) clearTimeout(backstop);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    lab.cleanup();
  }
}
