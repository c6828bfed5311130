/**
 * One exitscope at a time in a shared cache directory (a suite's apt lists, downloads and
 * unpacked kernels): two labs started at once on an empty cache would otherwise run apt on the
 * same lists and unpack into the same place.
 *
 * The lock is the kernel's flock(2), held by a small `flock` child (util-linux) for as long as
 * this process keeps its stdin open: a holder that dies for any reason closes that pipe, so the
 * lock can never outlive it (no pid files, no stale-lock guessing).
 */
import { spawn } from 'node:child_process';
import { UserError } from '../errors.js';

/** How long to wait quietly before saying that another exitscope holds the lock. */
const QUIET_MS = 1000;

export interface CacheLockOptions {
  /** Said once, if the lock is not free within a second. */
  waiting: () => void;
  /** The flock program (tests point it elsewhere). */
  flock?: string;
}

/** Runs `fn` while holding an exclusive flock on `lockFile` (created if missing), and releases it after, whatever `fn` does. */
export async function withCacheLock<T>(lockFile: string, opts: CacheLockOptions, fn: () => Promise<T>): Promise<T> {
  const release = await acquire(lockFile, opts);
  try {
    return await fn();
  } finally {
    await release();
  }
}

function acquire(lockFile: string, opts: CacheLockOptions): Promise<() => Promise<void>> {
  // `flock FILE sh -c ...`: once the lock is ours, say so on stdout and wait for stdin to close
  const holder = spawn(opts.flock ?? 'flock', ['--exclusive', lockFile, 'sh', '-c', 'echo locked; exec cat > /dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  holder.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const exited = new Promise<void>((resolve) => holder.once('close', () => resolve()));
  const release = async (): Promise<void> => {
    holder.stdin.end();
    await exited;
  };
  return new Promise((resolve, reject) => {
    const quiet = setTimeout(opts.waiting, QUIET_MS);
    const done = (): void => clearTimeout(quiet);
    holder.stdout.setEncoding('utf8').on('data', (t: string) => {
      if (!t.includes('locked')) return;
      done();
      resolve(release);
    });
    holder.once('error', (e: NodeJS.ErrnoException) => {
      done();
      reject(
        e.code === 'ENOENT'
          ? new UserError('LAB_NO_TOOL', 'no flock program to keep two exitscope labs out of the same cache', 'apt-get install util-linux')
          : e,
      );
    });
    holder.once('close', (code) => {
      done();
      // before "locked": flock could not open or lock the file
      reject(new UserError('LAB_CACHE_LOCK', `could not lock ${lockFile} (flock status ${code}): ${stderr.trim()}`, 'check that the cache directory is writable (or set XDG_CACHE_HOME to one that is)'));
    });
  });
}
