/**
 * A tracer never outlives exitscope: a real Node process starts a stand-in tracer (sleep) through
 * spawnTracer and then dies; the stand-in must be gone soon after, however the process died.
 * SIGKILL is covered by the kernel's parent-death signal (setpriv), process.exit and uncaught
 * exceptions by our exit hook (tested without setpriv so that the hook alone is tested).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parentDeathCheck, parentDeathGuard } from '../../src/process/parent-death.js';
import { runningTracers, spawnTracer } from '../../src/process/tracer-process.js';
import { bundleScript, removeBundle } from './support/bundle-script.js';
import { until } from './support/ink-wait.js';

let script: string;
beforeAll(async () => {
  script = await bundleScript(join(import.meta.dirname, 'support/spawn-tracer-then-die.ts'));
});
afterAll(() => removeBundle(script));

/** Running (not gone, not a zombie waiting for a reaper). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Polls for up to ~10 s (a generous bound, not a timing claim). */
async function goneSoon(pid: number): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return false;
}

const leftovers: number[] = [];
afterEach(() => {
  for (const pid of leftovers.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

/** Runs the script; once it reports its tracer, `then` may kill it. Resolves with the tracer's pid and how the script ended. */
function runScript(mode: string, env: Record<string, string>, then: (p: ReturnType<typeof spawn>) => void): Promise<{ tracer: number; code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, mode], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let tracer = 0;
    let out = '';
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const m = /^tracer (\d+)$/m.exec(out);
      if (m && !tracer) {
        tracer = Number(m[1]);
        leftovers.push(tracer);
        then(p);
      }
    });
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ tracer, code, signal }));
  });
}

describe('a tracer dies with exitscope', () => {
  it.skipIf(!parentDeathGuard().setpriv)('exitscope SIGKILLed (no handler of ours runs): the kernel kills the tracer', async () => {
    const r = await runScript('wait', {}, (p) => p.kill('SIGKILL'));
    expect(r.signal).toBe('SIGKILL');
    expect(r.tracer).toBeGreaterThan(0);
    expect(await goneSoon(r.tracer)).toBe(true);
  });

  it.skipIf(!parentDeathGuard().setpriv)('an emulator the labs start (dyingWithUs) dies with its SIGKILLed parent too', async () => {
    const r = await runScript('wait', { VIA: 'dyingWithUs' }, (p) => p.kill('SIGKILL'));
    expect(r.signal).toBe('SIGKILL');
    expect(r.tracer).toBeGreaterThan(0);
    expect(await goneSoon(r.tracer)).toBe(true);
  });

  it.each(['exit', 'throw'])('exitscope ends by %s (no signal): the exit hook kills the tracer, even without setpriv', async (mode) => {
    const r = await runScript(mode, { NO_SETPRIV: '1' }, () => undefined);
    expect(r.code).toBe(mode === 'exit' ? 3 : 1);
    expect(r.tracer).toBeGreaterThan(0);
    expect(await goneSoon(r.tracer)).toBe(true);
  });

  it('the tracer runs under its own pid (setpriv execs it), and is forgotten once it exits', async () => {
    // a tracer that runs until it is stopped: how soon this test looks at it does not matter
    const child = spawnTracer('sleep', ['600'], {});
    expect(runningTracers()).toBe(1);
    const pid = child.pid as number;
    leftovers.push(pid);
    // setpriv first, then (same pid) the tracer once exec'd
    const program = (): string => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
      } catch {
        return '';
      }
    };
    await until(() => program().endsWith('sleep'), `pid ${pid} to become sleep (it is ${JSON.stringify(program())})`);
    // stopping that pid stops the tracer itself: it is the tracer's pid, not a wrapper's
    process.kill(pid, 'SIGTERM');
    const r = await child;
    leftovers.splice(leftovers.indexOf(pid), 1); // reaped: the pid may be someone else's now
    expect(r.signal).toBe('SIGTERM');
    expect(runningTracers()).toBe(0);
  });

  it('a tracer that cannot be found fails as Node reports it (ENOENT), with or without setpriv', async () => {
    const r = await spawnTracer('/nonexistent/bpftrace', ['-f', 'json'], {});
    expect(r.failed).toBe(true);
    expect(r.code).toBe('ENOENT');
    expect(runningTracers()).toBe(0);
  });

  it('without setpriv: a warning for doctor (optional), not an error', () => {
    const check = parentDeathCheck('/nonexistent');
    expect(check).toMatchObject({ ok: false, required: false });
    expect(check.detail).toMatch(/setpriv not found/);
    expect(parentDeathGuard('/nonexistent').setpriv).toBeUndefined();
  });
});
