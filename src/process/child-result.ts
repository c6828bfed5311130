/**
 * A child process that is also the promise of how it ended: the part of execa's subprocess that
 * exitscope's hot paths read (the tracer's bpftrace, `run`'s COMMAND), on node:child_process alone.
 *
 * Why not execa there: loading it cost 0.12 s of CPU natively, half of what `exitscope run` spent
 * loading modules, at every start; in the Intel lab (Bochs) that is most of a minute. execa stays
 * where its extras are used (`run --scope` feeds the gate's fd 3 from a generator).
 *
 * Like execa with `reject: false`: the promise never rejects. A child that could not start (ENOENT,
 * ENOTDIR, ETXTBSY...) resolves with `failed`, the error's `code`, no pid and no exitCode; one
 * killed by a signal with `signal` and no exitCode. Its stdout and stderr are pipes unless `stdio`
 * says otherwise: a caller reads them (or passes 'ignore'), or the child stalls when a pipe fills.
 */
import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';

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
  const command = [file, ...args].join(' ');
  let child: ChildProcess;
  try {
    child = spawn(file, args, { stdio: o.stdio ?? 'pipe', ...(o.env ? { env: { ...process.env, ...o.env } } : {}) });
  } catch (e) {
    // Node throws some exec failures (ENOTDIR, ENAMETOOLONG, E2BIG, ETXTBSY, ELOOP) instead of
    // emitting them: a result all the same, as for ENOENT. ERR_* (bad arguments) is a bug of ours.
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) throw e;
    return withResult(neverStarted(), Promise.resolve(notStarted(code, command, (e as Error).message)));
  }
  const result = new Promise<ChildResult>((resolve) => {
    // 'error' without a start (ENOENT) may come with or without 'close': the first settles it.
    // `on`, not `once`: a failed kill() (EPERM) is an 'error' too, and must not find no listener.
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) return; // a kill() that failed: still running
      resolve(notStarted(e.code ?? 'ERROR', command, e.message));
    });
    child.once('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (child.pid === undefined) return; // never started: 'error' says why
      const shortMessage = signal ? `Command was killed with ${signal}: ${command}` : exitCode === 0 ? `Command succeeded: ${command}` : `Command failed with exit code ${exitCode}: ${command}`;
      resolve({ failed: exitCode !== 0, ...(exitCode !== null ? { exitCode } : {}), ...(signal ? { signal } : {}), shortMessage, message: shortMessage });
    });
  });
  const kill = child.kill.bind(child);
  child.kill = (signal?: NodeJS.Signals | number): boolean => {
    // A child that never started has no pid, and until Node's next tick a handle whose kill is
    // kill(0, signal): our whole process group. Nothing to signal.
    if (child.pid === undefined) return false;
    const sent = kill(signal);
    if (sent && o.forceKillAfterDelay !== undefined && (signal === undefined || signal === 'SIGTERM' || signal === 15)) {
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) kill('SIGKILL');
      }, o.forceKillAfterDelay).unref();
    }
    return sent;
  };
  if (o.cancelSignal) {
    const cancel = (): void => void child.kill('SIGTERM');
    if (o.cancelSignal.aborted) cancel();
    else {
      o.cancelSignal.addEventListener('abort', cancel, { once: true });
      void result.then(() => o.cancelSignal?.removeEventListener('abort', cancel));
    }
  }
  return withResult(child, result);
}

/**
 * What stands for a child that never started: no pid, no streams, a kill() that signals nothing.
 * Not `new ChildProcess()`: its handle's kill without a pid is kill(0), our own process group.
 */
function neverStarted(): ChildProcess {
  return Object.assign(new EventEmitter(), { pid: undefined, exitCode: null, signalCode: null, killed: false, stdin: null, stdout: null, stderr: null, stdio: [null, null, null], kill: (): boolean => false }) as unknown as ChildProcess;
}

function notStarted(code: string, command: string, detail: string): ChildResult {
  return { failed: true, code, shortMessage: `Command failed with ${code}: ${command}`, message: `Command failed with ${code}: ${command}\n${detail}` };
}

/** A subprocess is a thenable, as execa's is: `await child` waits for its end. */
function withResult(child: ChildProcess, result: Promise<ChildResult>): ChildWithResult {
  return Object.assign(child, { then: result.then.bind(result), catch: result.catch.bind(result), finally: result.finally.bind(result), [Symbol.toStringTag]: 'ChildWithResult' }) as ChildWithResult;
}
