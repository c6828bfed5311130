/**
 * The remote writers of a recording (record --from, attach --plain, the attach dashboard) against a
 * failing disk: /dev/full (every write is ENOSPC), a file size limit (EFBIG after some lines) and an
 * unopenable path. The real CLI runs as a process against a real StreamServer: what the user sees is
 * the error once, with its fix, status 2, no stack, no unhandled rejection; the file keeps what was
 * written and reads back.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/messages.js';
import { parseRecording, readRecording } from '../../src/recording/recording.js';
import { StreamServer } from '../../src/server/server.js';
import { bundleScript, removeBundle } from './support/bundle-script.js';

const messages: Message[] = parseRecording(readFileSync(join(import.meta.dirname, '../fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages;

let cli: string;
let dir: string;
beforeAll(async () => {
  cli = await bundleScript(join(import.meta.dirname, 'support/cli-main.ts'));
  dir = mkdtempSync(join(tmpdir(), 'rec-fail-'));
}, 60_000);
afterAll(() => {
  removeBundle(cli);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let servers: StreamServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** A server; it publishes the stream now (then its catch-up gives it to every client) or later (publish). */
async function serverWith(withEnd: boolean, now = true): Promise<{ url: string; publish: () => void }> {
  const server = new StreamServer({ host: '127.0.0.1', port: 0 });
  servers.push(server);
  const { port } = await server.listen();
  const publish = (): void => {
    for (const m of messages) if (withEnd || m.type !== 'end') server.publish(m);
  };
  if (now) publish();
  return { url: `ws://127.0.0.1:${port}`, publish };
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI's command line: exitscope ARGS. */
const exitscope = (...args: string[]): string[] => [process.execPath, cli, ...args];

/** A process (the CLI, or the CLI under prlimit or script); killed after 20 s. */
function run(argv: string[], onStdout?: (all: string) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    // not a CI run to ink (it would draw nothing until the end): the dashboard draws as on a terminal
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    for (const k of ['CI', 'CONTINUOUS_INTEGRATION', 'BUILD_NUMBER', 'RUN_ID']) delete env[k];
    const p = spawn(argv[0] as string, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
      onStdout?.(stdout);
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const guard = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('error', reject);
    p.on('close', (status) => {
      clearTimeout(guard);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Said once, with its fix, and nothing that a bug would print. */
function expectOneUserError(text: string, code: string): void {
  const errors = text.split(/\r?\n/).filter((l) => l.includes('exitscope: error ['));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain(`exitscope: error [${code}]: `);
  expect(text).toMatch(/\n {2}fix: \S/);
  expect(text).not.toContain('\n    at ');
  expect(text).not.toMatch(/unhandled|Uncaught|UnhandledPromiseRejection|Node\.js v/i);
}

const hasDevFull = existsSync('/dev/full');

describe('record --from: a recording that cannot be written', () => {
  it.runIf(hasDevFull).each([true, false])('-o /dev/full (stream ended: %s): error [RECORDING_WRITE] once with its fix, status 2, no stack', async (withEnd) => {
    const { url } = await serverWith(withEnd);
    const r = await run(exitscope('record', '--from', url, '-o', '/dev/full'));
    expectOneUserError(r.stderr, 'RECORDING_WRITE');
    expect(r.stderr).toContain('no space left on the device (ENOSPC)');
    expect(r.status).toBe(2);
  });

  it.runIf(existsSync('/usr/bin/prlimit'))('a file size limit mid-stream (EFBIG): status 2, the file keeps the lines that fit and reads back', async () => {
    const { url } = await serverWith(true);
    const file = join(dir, 'limited.jsonl');
    // the hello (1 KB) and the VM line fit, the merged snapshot does not
    const r = await run(['/usr/bin/prlimit', '--fsize=2000', ...exitscope('record', '--from', url, '-o', file)]);
    expectOneUserError(r.stderr, 'RECORDING_WRITE');
    expect(r.stderr).toContain('(EFBIG)');
    expect(r.stderr).toContain('stopped after 2 messages');
    expect(r.status).toBe(2);
    const back = readRecording(file);
    expect(back.messages.map((m) => m.type)).toEqual(['hello', 'vm']);
    expect(back.problemCount).toBeLessThanOrEqual(1); // the cut-off line
  });

  it('-o in a directory that does not exist: error [RECORDING_OPEN] once, status 2, no stack', async () => {
    const { url } = await serverWith(true);
    const r = await run(exitscope('record', '--from', url, '-o', join(dir, 'no/such/dir.jsonl')));
    expectOneUserError(r.stderr, 'RECORDING_OPEN');
    expect(r.status).toBe(2);
  });
});

describe('attach --plain -o: a recording that cannot be written', () => {
  it.runIf(hasDevFull)('-o /dev/full: error [RECORDING_WRITE] once with its fix, status 2, no stack, the attach stops', async () => {
    const { url } = await serverWith(false); // a stream that goes on: only the failure ends the command
    const r = await run(exitscope('attach', url, '--plain', '-o', '/dev/full'));
    expectOneUserError(r.stderr, 'RECORDING_WRITE');
    expect(r.status).toBe(2);
  });

  it('-o in a directory that does not exist: error [RECORDING_OPEN] once, status 2', async () => {
    const { url } = await serverWith(false);
    const r = await run(exitscope('attach', url, '--plain', '-o', join(dir, 'no/such/dir.jsonl')));
    expectOneUserError(r.stderr, 'RECORDING_OPEN');
    expect(r.status).toBe(2);
  });
});

describe('the attach dashboard -o: a recording that cannot be written', () => {
  // a terminal for the dashboard: script(1) runs the CLI on a pseudo-terminal (stdout and stderr both go there)
  it.runIf(hasDevFull && existsSync('/usr/bin/script'))('-o /dev/full: the dashboard stops, the terminal is restored, the error is said once after it, status 2', async () => {
    // nothing to catch up on: the dashboard draws first, the stream (and the failed write) comes after
    const { url, publish } = await serverWith(false, false);
    const command = exitscope('attach', url, '-o', '/dev/full').map((a) => `'${a}'`).join(' ');
    let published = false;
    const r = await run(['/usr/bin/script', '-qefc', command, '/dev/null'], (out) => {
      if (!published && out.includes('connected')) {
        published = true;
        publish();
      }
    });
    const out = r.stdout;
    expect(published).toBe(true);
    expectOneUserError(out, 'RECORDING_WRITE');
    expect(r.status).toBe(2);
    // the error comes after the last frame the dashboard drew, not under or inside it
    const at = out.indexOf('exitscope: error [RECORDING_WRITE]');
    expect(out.lastIndexOf('connected')).toBeLessThan(at);
    expect(out.slice(at)).not.toMatch(/\x1b\[\d*[AJK]/);
  });
});
