/**
 * The dashboard in a real terminal: tmux runs `exitscope replay` of a real lab
 * recording, keys are sent, the screen is captured. Ink writes only its last
 * frame when CI=true, so the program runs with CI unset (env -u CI).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '../..');
const REC = join(REPO, 'test/fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl');
const SOCKET = `exitscope-test-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = (): string => tmux('capture-pane', '-p', '-t', 'dash');
const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
})();

async function until(what: string, test: (s: string) => boolean, ms = 20_000): Promise<string> {
  const end = Date.now() + ms;
  let s = '';
  while (Date.now() < end) {
    s = screen();
    if (test(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; the screen was:\n${s}`);
}

/**
 * Waits for a screen holding every one of `parts`. tmux can be captured between two chunks of one
 * Ink frame (the top redrawn, the rest not yet), so what a step asserts is what it waits for: a
 * half-drawn frame waits for the rest instead of failing.
 */
const untilAll = (what: string, parts: string[], also: (s: string) => boolean = () => true): Promise<string> =>
  until(what, (s) => parts.every((p) => s.includes(p)) && also(s));

describe.skipIf(!hasTmux)('the dashboard in tmux (exitscope replay of a real recording)', () => {
  beforeAll(() => {
    tmux('new-session', '-d', '-s', 'dash', '-x', '100', '-y', '40', '-c', REPO, 'bash --norc --noprofile');
    tmux('send-keys', '-t', 'dash', "PS1='$ '; clear", 'Enter');
  });
  afterAll(() => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
  });

  it('shows the recording, reacts to p, s, v, and restores the terminal on q', async () => {
    tmux('send-keys', '-t', 'dash', `env -u CI NO_COLOR=1 node bin/exitscope.js replay --speed 0 -w 60 ${REC}`, 'Enter');
    const first = await untilAll('the last interval', ['REPLAY (end)', 'COUNT▼', 'VM all VMs'], (s) => /^IOIO /m.test(s));
    expect(first).toContain('COUNT▼');
    expect(tmux('display', '-p', '-t', 'dash', '#{cursor_flag}').trim()).toBe('0'); // Ink hides the cursor while drawing

    tmux('send-keys', '-t', 'dash', 'p');
    await until('PAUSED', (s) => s.includes('PAUSED'));
    tmux('send-keys', '-t', 'dash', 'p');
    await until('resumed', (s) => !s.includes('PAUSED') && s.includes('REPLAY (end)'));

    tmux('send-keys', '-t', 'dash', 's');
    const sorted = await until('sorted by name', (s) => s.includes('EXIT REASON▼'));
    expect(sorted).not.toContain('COUNT▼');

    tmux('send-keys', '-t', 'dash', 'v');
    const vm = await untilAll('a VM selected', ['VM exitscope-workload (pid 208)', '▶ exitscope-workload (208)']);
    expect(vm).toContain('▶ exitscope-workload (208)');

    tmux('send-keys', '-t', 'dash', 'q');
    await until('the prompt back', (s) => /^\$\s*$/m.test(s.split('\n').filter((l) => l.trim()).slice(-1)[0] ?? ''));
    // the terminal is usable again: canonical mode and echo on, cursor visible
    tmux('send-keys', '-t', 'dash', "stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo | tr '\\n' ' '; echo done-$((40+2))", 'Enter');
    const after = await until('the stty check', (s) => s.includes('done-42'));
    expect(after).toMatch(/icanon echo/);
    expect(tmux('display', '-p', '-t', 'dash', '#{cursor_flag}').trim()).toBe('1');
  }, 60_000);
});
