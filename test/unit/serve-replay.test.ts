/**
 * serve --replay: a recording served to WebSocket clients with nothing traced. The real CLI runs as
 * processes: `serve --replay` and `record --from` of it; the recording that comes out has the same
 * report as the original (exact counts), clients see the recording's end, a late client gets the
 * whole finished stream as the catch-up, and Ctrl-C (SIGINT) stops the server cleanly (status 0).
 * The pacing itself is checked without a clock (play.ts takes its sleep).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aggregate } from '../../src/model/aggregate.js';
import type { Message } from '../../src/protocol/messages.js';
import { parseRecording, readRecording } from '../../src/recording/recording.js';
import { describeSpeed, MAX_PAUSE_MS, parseSpeed, pauseBefore } from '../../src/replay-server/pace.js';
import { playRecording } from '../../src/replay-server/play.js';
import { buildReport } from '../../src/report/report.js';
import { bundleScript, removeBundle } from './support/bundle-script.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/recordings');
const reportOf = (ms: Iterable<Message>) => {
  const agg = new Aggregate(0);
  for (const m of ms) agg.apply(m);
  return buildReport(agg);
};

describe('pace', () => {
  it('t divided by the speed; max (0) never waits; long pauses cut; speeds parsed', () => {
    expect(pauseBefore(1000, 2000, 1)).toBe(1000);
    expect(pauseBefore(1000, 2000, 4)).toBe(250);
    expect(pauseBefore(1000, 2000, 0)).toBe(0);
    expect(pauseBefore(0, 60_000, 1)).toBe(MAX_PAUSE_MS);
    expect(pauseBefore(2000, 1000, 1)).toBe(0);
    expect([parseSpeed('max'), parseSpeed('0'), parseSpeed('2.5'), parseSpeed('1000')]).toEqual([0, 0, 2.5, 1000]);
    for (const bad of ['-1', 'fast', '1001', '0.001', '']) expect(() => parseSpeed(bad)).toThrow(/--speed takes/);
    expect(describeSpeed(0)).toBe('as fast as possible');
  });

  it('play: every message in order, the waits the pace asks for, an end added to a cut-off recording', async () => {
    const messages = parseRecording(readFileSync(join(FIXTURES, 'run-npf-1031-npt-off.jsonl'), 'utf8')).messages;
    const waits: number[] = [];
    const out: Message[] = [];
    const r = await playRecording(messages, (m) => out.push(m), { speed: 2, sleep: async (ms) => void waits.push(ms), stopped: () => false });
    expect(out).toEqual(messages);
    expect(r).toEqual({ published: messages.length, endAdded: false, interrupted: false });
    const ts = messages.flatMap((m) => (m.type === 'hello' ? [] : [m.t]));
    const want = ts.map((t, i) => pauseBefore(Math.max(0, ...ts.slice(0, i)), t, 2)).filter((w) => w > 0);
    expect(waits).toEqual(want);

    const cut = messages.filter((m) => m.type !== 'end');
    const out2: Message[] = [];
    const r2 = await playRecording(cut, (m) => out2.push(m), { speed: 0, sleep: async () => undefined, stopped: () => false });
    expect(r2.endAdded).toBe(true);
    expect(out2.at(-1)).toEqual({ type: 'end', t: Math.max(...cut.flatMap((m) => (m.type === 'hello' ? [] : [m.t]))), complete: false });
    expect(reportOf(out2)).toEqual(reportOf(cut)); // the added end changes nothing a report says

    let n = 0;
    const r3 = await playRecording(messages, () => n++, { speed: 1, sleep: async () => undefined, stopped: () => n >= 2 });
    expect(r3).toEqual({ published: 2, endAdded: false, interrupted: true });
  });
});

let cli: string;
let dir: string;
beforeAll(async () => {
  cli = await bundleScript(join(import.meta.dirname, 'support/cli-main.ts'));
  dir = mkdtempSync(join(tmpdir(), 'serve-replay-'));
}, 60_000);
afterAll(() => {
  removeBundle(cli);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Proc {
  p: ChildProcess;
  stderr: () => string;
  done: Promise<number | null>;
}

function start(...args: string[]): Proc {
  const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr?.on('data', (d: Buffer) => (err += d.toString('utf8')));
  p.stdout?.resume();
  const guard = setTimeout(() => p.kill('SIGKILL'), 30_000);
  const done = new Promise<number | null>((resolve) =>
    p.on('close', (status) => {
      clearTimeout(guard);
      resolve(status);
    }),
  );
  return { p, stderr: () => err, done };
}

/** Waits for stderr to match (the process says where it serves, or that the replay finished). */
async function said(proc: Proc, re: RegExp): Promise<RegExpExecArray> {
  for (;;) {
    const m = re.exec(proc.stderr());
    if (m) return m;
    const exited = await Promise.race([proc.done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20))]);
    if (exited) {
      const last = re.exec(proc.stderr());
      if (last) return last;
      throw new Error(`exited without saying ${re}: ${proc.stderr()}`);
    }
  }
}

/** All messages a plain WebSocket client receives until the server's end (or close). */
function listen(url: string): Promise<{ type: string }[]> {
  return new Promise((resolve, reject) => {
    const got: { type: string }[] = [];
    const ws = new WebSocket(url);
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { type: string };
      got.push(m);
      if (m.type === 'end') ws.close(1000);
    });
    ws.on('close', () => resolve(got));
    ws.on('error', reject);
  });
}

describe.each(['run-mix-3-vcpus-2-npt-on.jsonl', 'run-npf-1031-npt-off.jsonl'])('serve --replay %s (the CLI as processes)', (name) => {
  it('record --from of the replay gives the same report (exact counts); clients see the end; a late client gets the finished stream; Ctrl-C stops cleanly', { timeout: 60_000 }, async () => {
    const original = readRecording(join(FIXTURES, name)).messages;
    const server = start('serve', '0', '--replay', join(FIXTURES, name), '--speed', 'max');
    try {
      const url = (await said(server, /serving the stream at (ws:\/\/127\.0\.0\.1:\d+)\/stream/))[1] as string;
      await said(server, /when the first client connects/); // its own write, after the line above
      const out = join(dir, `from-${name}`);
      const recorder = start('record', '--from', url, '-o', out);
      expect(await recorder.done).toBe(0);
      const copy = readRecording(out).messages;
      expect(copy.at(-1)?.type).toBe('end');
      expect(reportOf(copy)).toEqual(reportOf(original));
      expect(reportOf(copy).totalExits).toBeGreaterThan(1000);

      // after the end the server stays up: a late client gets everything as the catch-up, ending with the end
      await said(server, /replay finished \(\d+ messages\); serving the finished stream/);
      const late = await listen(`${url}/stream`);
      expect(late[0]?.type).toBe('welcome');
      expect(late.at(-1)?.type).toBe('end');
      expect(reportOf(late.slice(1) as Message[])).toEqual(reportOf(original));

      server.p.kill('SIGINT');
      expect(await server.done).toBe(0);
      expect(server.stderr()).not.toMatch(/\n\s+at |Error:|unhandled/i);
    } finally {
      server.p.kill('SIGKILL');
    }
  });
});

describe('serve --replay: errors before anything starts', () => {
  it('a file that is no recording: its error, status 2, nothing served; --speed without --replay; tracing options with it', { timeout: 60_000 }, async () => {
    const bad = join(dir, 'not-a-recording.jsonl');
    writeFileSync(bad, 'hello\n');
    const r1 = start('serve', '0', '--replay', bad);
    expect(await r1.done).toBe(2);
    expect(r1.stderr()).toContain('error [RECORDING_INVALID]');
    expect(r1.stderr()).not.toContain('serving');
    const r2 = start('serve', '0', '--speed', '2');
    expect(await r2.done).toBe(2);
    expect(r2.stderr()).toContain('error [USAGE]: --speed paces a replay');
    const r3 = start('serve', '0', '--replay', join(FIXTURES, 'run-npf-1031-npt-off.jsonl'), '--pid', '42');
    expect(await r3.done).toBe(2);
    expect(r3.stderr()).toContain('error [USAGE]: --replay serves a recording as it was recorded: --pid');
    const r4 = start('serve', '0', '--replay', join(FIXTURES, 'run-npf-1031-npt-off.jsonl'), '--speed', 'fast');
    expect(await r4.done).toBe(2);
    expect(r4.stderr()).toContain('--speed takes a factor');
  });
});

describe('report -o (every format)', () => {
  it('writes the same bytes as stdout; a path that cannot be written is REPORT_WRITE with its fix, status 2, nothing left behind', { timeout: 60_000 }, async () => {
    const rec = join(FIXTURES, 'run-mix-3-vcpus-2-npt-on.jsonl');
    for (const f of ['text', 'json', 'csv', 'markdown']) {
      const out = join(dir, `report.${f}`);
      const toStdout = start('report', rec, '-f', f);
      let stdout = '';
      toStdout.p.stdout?.removeAllListeners('data');
      toStdout.p.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      expect(await toStdout.done).toBe(0);
      const toFile = start('report', rec, '-f', f, '-o', out);
      expect(await toFile.done).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe(stdout);
    }
    const missing = join(dir, 'no-such-dir', 'r.json');
    const bad = start('report', rec, '-f', 'json', '-o', missing);
    expect(await bad.done).toBe(2);
    expect(bad.stderr()).toContain(`exitscope: error [REPORT_WRITE]: could not write ${missing}`);
    expect(bad.stderr()).toMatch(/\n {2}fix: \S/);
    // html: checked before the recording is read (it is read twice)
    const html = start('report', rec, '-f', 'html', '-o', join(dir, 'no-such-dir', 'r.html'));
    expect(await html.done).toBe(2);
    expect(html.stderr()).toContain('exitscope: error [BAD_OUTPUT]: cannot write');
    expect(bad.stderr()).toMatch(/\n {2}fix: \S/);
    expect(bad.stderr()).not.toContain('\n    at ');
  });
});
