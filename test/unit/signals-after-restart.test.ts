/**
 * SIGTERM and SIGINT end a collection through our handler (final snapshot, then `end`) however many
 * times bpftrace was restarted before. A real process (support/collector-under-signal.ts) runs the
 * collector on the bpftrace stand-in; the test kills nothing but that process, by signal.
 * (The bug: execa's cleanup used signal-exit, which re-raised the signal once a restart had put its
 * listener after ours, and exitscope died at once with 143/130 and no end.)
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleScript, removeBundle } from './support/bundle-script.js';

const FAKE = join(import.meta.dirname, 'support/fake-bpftrace.mjs');
let script: string;
beforeAll(async () => {
  script = await bundleScript(join(import.meta.dirname, 'support/collector-under-signal.ts'));
});
afterAll(() => removeBundle(script));

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
}

function runAndSignal(restarts: number, sig: NodeJS.Signals): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, FAKE], { env: { ...process.env, RESTARTS: String(restarts), FAKE_BPFTRACE_MODE: 'normal' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    let rest = '';
    p.stdout.on('data', (d: Buffer) => {
      const parts = (rest + d.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      for (const l of parts) {
        lines.push(l);
        if (l.startsWith('ready')) p.kill(sig);
      }
    });
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, lines }));
  });
}

const messages = (lines: string[]): Array<{ type: string; final?: boolean; complete?: boolean; resumed?: boolean }> => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string });

describe('a signal after bpftrace restarts ends the stream in order', () => {
  it.each([
    [0, 'SIGTERM'],
    [1, 'SIGTERM'],
    [3, 'SIGTERM'],
    [1, 'SIGINT'],
    [3, 'SIGINT'],
  ] as const)('after %i restarts, %s: our handler runs, the final snapshot and the end are written', async (restarts, sig) => {
    const r = await runAndSignal(restarts, sig);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.lines).toContain('stopped: interrupt');
    expect(r.lines.at(-1)).toBe('done');
    const ms = messages(r.lines);
    expect(ms.filter((m) => m.type === 'gap' && m.resumed)).toHaveLength(restarts);
    expect(ms.some((m) => m.type === 'snapshot' && m.final)).toBe(true);
    expect(ms.at(-1)).toMatchObject({ type: 'end', complete: true });
  }, 30_000);
});
