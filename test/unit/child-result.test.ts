/**
 * spawnWithResult: a child process that is the promise of how it ended (what the tracers and
 * `run`'s COMMAND read), checked with real processes.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnWithResult } from '../../src/process/child-result.js';
import { bundleScript, removeBundle } from './support/bundle-script.js';

const node = process.execPath;

describe('spawnWithResult', () => {
  it('a status of 0: not failed, exitCode 0, no signal', async () => {
    const r = await spawnWithResult(node, ['-e', 'process.exit(0)']);
    expect(r).toMatchObject({ failed: false, exitCode: 0 });
    expect(r.signal).toBeUndefined();
  });

  it('another status: failed, with that exitCode', async () => {
    const r = await spawnWithResult(node, ['-e', 'process.exit(7)']);
    expect(r).toMatchObject({ failed: true, exitCode: 7 });
    expect(r.shortMessage).toMatch(/exit code 7/);
  });

  it('killed by a signal: failed, the signal, no exitCode', async () => {
    const child = spawnWithResult(node, ['-e', 'setInterval(() => {}, 1000); console.log("up")']);
    await new Promise<void>((res) => child.stdout?.once('data', () => res()));
    child.kill('SIGINT');
    const r = await child;
    expect(r).toMatchObject({ failed: true, signal: 'SIGINT' });
    expect(r.exitCode).toBeUndefined();
  });

  it('a program that does not exist: failed with ENOENT, no pid, no exitCode, never rejects', async () => {
    const child = spawnWithResult('/nonexistent/exitscope-no-such-program', []);
    const r = await child;
    expect(child.pid).toBeUndefined();
    expect(r).toMatchObject({ failed: true, code: 'ENOENT' });
    expect(r.exitCode).toBeUndefined();
    expect(r.shortMessage).toMatch(/ENOENT/);
  });

  it('an exec failure Node throws instead of emitting (ENOTDIR) is a result too, with no pid', async () => {
    const child = spawnWithResult('/etc/passwd/not-a-directory', []);
    expect(child.pid).toBeUndefined();
    const r = await child;
    expect(r).toMatchObject({ failed: true, code: 'ENOTDIR' });
    expect(r.exitCode).toBeUndefined();
  });

  it('a child that never started is never signalled (kill(0) would be our own process group): an aborted cancelSignal, a kill()', async () => {
    // in a process of its own, in a session of its own: were kill(0) sent, only that process would die
    const script = await bundleScript(join(import.meta.dirname, 'support/spawn-aborted-never-started.ts'));
    try {
      const child = spawn(process.execPath, [script], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const [status, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
      expect({ out: out.trim(), status, signal }).toEqual({ out: 'survived ENOENT false ENOTDIR false', status: 0, signal: null });
    } finally {
      removeBundle(script);
    }
  });

  it('streams output as it comes, and adds env to ours', async () => {
    const child = spawnWithResult(node, ['-e', 'process.stdout.write(process.env.EXITSCOPE_T + ":" + (process.env.PATH ? "path" : "none"))'], { env: { EXITSCOPE_T: 'x1' } });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await child;
    expect(out).toBe('x1:path');
  });

  it('forceKillAfterDelay: a child that ignores SIGTERM is SIGKILLed after it', async () => {
    const child = spawnWithResult(node, ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000); console.log("up")'], { forceKillAfterDelay: 50 });
    await new Promise<void>((res) => child.stdout?.once('data', () => res()));
    child.kill('SIGTERM');
    expect((await child).signal).toBe('SIGKILL');
  });

  it('without forceKillAfterDelay, SIGTERM alone: a child that ignores it keeps running', async () => {
    const child = spawnWithResult(node, ['-e', 'process.on("SIGTERM", () => console.log("ignored")); setInterval(() => {}, 1000); console.log("up")']);
    const lines: string[] = [];
    child.stdout?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    await new Promise<void>((res) => child.stdout?.once('data', () => res()));
    child.kill('SIGTERM');
    // it says it ignored the signal: it is still running then
    await new Promise<void>((res) => {
      const t = setInterval(() => lines.includes('ignored') && (clearInterval(t), res()), 10);
    });
    expect(child.exitCode).toBeNull();
    child.kill('SIGKILL');
    expect((await child).signal).toBe('SIGKILL');
  });

  it('cancelSignal: aborting sends SIGTERM', async () => {
    const ac = new AbortController();
    const child = spawnWithResult(node, ['-e', 'setInterval(() => {}, 1000); console.log("up")'], { cancelSignal: ac.signal });
    await new Promise<void>((res) => child.stdout?.once('data', () => res()));
    ac.abort();
    expect((await child).signal).toBe('SIGTERM');
  });
});
