/**
 * A child process that is also the promise of how it ended: the part of execa's subprocess that
 * exitscope's hot paths read (the tracer's bpftrace, `run`'s COMMAND), on node:child_process alone.
 *
 * Why not execa there: loading it cost 0.12 s of CPU natively, half of what `exitscope run` spent
 * loading modules, at every start; in the Intel lab (Bochs) that is most of a minute. execa stays
 * where its extras are used (`run --scope` feeds the gate's fd 3 from a generator).
 *
 * Like execa with `reject: false`: the promise never rejects. A child that could not start (ENOENT)
 * resolves with `failed`, the error's `code` and no exitCode; one killed by a signal with `signal`
 * and no exitCode.
 */
import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process';

export interface ChildResult {
  /** anything but exit status 0 */
  failed: boolean;
  exitCode?: number;
  signal?: NodeJS.Signals;
  /** the spawn error's code (ENOENT, EACCES) when the child never started */
  code?: string;
  /** one line: how it ended, or why it could not start */
  shortMessage: string;
  message: string;
}

export type ChildWithResult = ChildProcess & Promise<ChildResult>;

export interface ChildOptions {
  /** added to our environment (as execa's extendEnv) */
  env?: Record<string, string>;
  stdio?: StdioOptions;
  /** aborting sends SIGTERM */
  cancelSignal?: AbortSignal;
  /** after a SIGTERM (kill(), kill('SIGTERM') or the cancel), SIGKILL if it still runs this many ms later */
  forceKillAfterDelay?: number;
}

export function spawnWithResult(file: string, args: readonly string[], o: ChildOptions = {}): ChildWithResult {
  const child = spawn(file, args, { stdio: o.stdio ?? 'pipe', ...(o.env ? { env: { ...process.env, ...o.env } } : {}) });
  const command = [file, ...args].join(' ');
  const result = new Promise<ChildResult>((resolve) => {
    // 'error' without a start (ENOENT) may come with or without 'close': the first settles it
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) return; // a kill() that failed: still running
      const code = e.code ?? 'ERROR';
      resolve({ failed: true, code, shortMessage: `Command failed with ${code}: ${command}`, message: `Command failed with ${code}: ${command}\n${e.message}` });
    });
    child.once('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (child.pid === undefined) return; // never started: 'error' says why
      const shortMessage = signal ? `Command was killed with ${signal}: ${command}` : exitCode === 0 ? `Command succeeded: ${command}` : `Command failed with exit code ${exitCode}: ${command}`;
      resolve({ failed: exitCode !== 0, ...(exitCode !== null ? { exitCode } : {}), ...(signal ? { signal } : {}), shortMessage, message: shortMessage });
    });
  });
  if (o.forceKillAfterDelay !== undefined) {
    const delay = o.forceKillAfterDelay;
    const kill = child.kill.bind(child);
    child.kill = (signal?: NodeJS.Signals | number): boolean => {
      const sent = kill(signal);
      if (sent && (signal === undefined || signal === 'SIGTERM')) {
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) kill('SIGKILL');
        }, delay).unref();
      }
      return sent;
    };
  }
  if (o.cancelSignal) {
    const cancel = (): void => void child.kill('SIGTERM');
    if (o.cancelSignal.aborted) cancel();
    else {
      o.cancelSignal.addEventListener('abort', cancel, { once: true });
      void result.then(() => o.cancelSignal?.removeEventListener('abort', cancel));
    }
  }
  // a subprocess is a thenable, as execa's is: `await child` waits for its end
  return Object.assign(child, { then: result.then.bind(result), catch: result.catch.bind(result), finally: result.finally.bind(result), [Symbol.toStringTag]: 'ChildWithResult' }) as ChildWithResult;
}
