/**
 * withCacheLock: the real flock(1) and flock(2) on a temp file. Two holders never overlap, across
 * processes too; a holder that throws or dies frees the lock; no flock program is a clear error.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withCacheLock } from '../../src/lab/cache-lock.js';
import { UserError } from '../../src/errors.js';

const lockFile = (): string => join(mkdtempSync(join(tmpdir(), 'cache-lock-')), 'k.lock');

/** A promise and the function that settles it, to hold a lock for exactly as long as a test wants. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

describe('withCacheLock', () => {
  it('runs a second holder only after the first has finished, and tells it that it waits', async () => {
    const file = lockFile();
    const events: string[] = [];
    const first = gate();
    const aWaited = gate();
    const a = withCacheLock(file, { waiting: () => events.push('a waits') }, async () => {
      events.push('a in');
      aWaited.open();
      await first.opened;
      events.push('a out');
    });
    await aWaited.opened;
    const bWaits = gate();
    const b = withCacheLock(
      file,
      {
        waiting: () => {
          events.push('b waits');
          bWaits.open();
        },
      },
      async () => {
        events.push('b in');
        return 42;
      },
    );
    await bWaits.opened;
    expect(events).toEqual(['a in', 'b waits']);
    first.open();
    await a;
    expect(await b).toBe(42);
    expect(events).toEqual(['a in', 'b waits', 'a out', 'b in']);
  });

  it('frees the lock when the holder throws, and passes the error on', async () => {
    const file = lockFile();
    await expect(withCacheLock(file, { waiting: () => undefined }, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const waited: string[] = [];
    expect(await withCacheLock(file, { waiting: () => waited.push('waited') }, async () => 'again')).toBe('again');
    expect(waited).toEqual([]);
  });

  it('excludes another process, and is free once that process is killed', async () => {
    const file = lockFile();
    const other = spawn('flock', ['--exclusive', file, 'sh', '-c', 'echo held; exec sleep 600'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    await new Promise<void>((r) => other.stdout.on('data', (t: Buffer) => t.toString().includes('held') && r()));
    const events: string[] = [];
    const mine = withCacheLock(
      file,
      {
        waiting: () => {
          events.push('waits');
          process.kill(-(other.pid as number), 'SIGKILL');
        },
      },
      async () => events.push('in'),
    );
    await mine;
    expect(events).toEqual(['waits', 'in']);
  });

  it('says what to install when there is no flock program', async () => {
    const err = await withCacheLock(lockFile(), { waiting: () => undefined, flock: '/nonexistent/flock' }, async () => 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('LAB_NO_TOOL');
    expect((err as UserError).fix).toContain('util-linux');
  });

  it('says which file could not be locked', async () => {
    const err = await withCacheLock('/nonexistent-dir/x.lock', { waiting: () => undefined }, async () => 1).catch((e: unknown) => e);
    expect((err as UserError).code).toBe('LAB_CACHE_LOCK');
    expect((err as UserError).message).toContain('/nonexistent-dir/x.lock');
  });
});
