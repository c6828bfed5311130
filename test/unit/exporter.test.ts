/**
 * `exitscope exporter`: its argument errors (in this process: nothing is traced), and the command
 * as a real process on the bpftrace stand-in: /metrics and /healthz over HTTP, the generated token
 * off loopback, nothing else served, a clean stop on SIGTERM and SIGINT.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { exporterCommand } from '../../src/commands/exporter.js';
import { type Live, type LiveOptions, startLiveIn } from '../../src/commands/live.js';
import { BpftraceOutputParser, type Frame } from '../../src/collector/bpftrace-output.js';
import { blocking, detectCapabilities } from '../../src/probes/capabilities.js';
import { bundleScript, removeBundle } from './support/bundle-script.js';
import { parseSamples, sumOf } from './support/prom-text.js';

const FAKE = join(import.meta.dirname, 'support/fake-bpftrace.mjs');

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const listenOn = (port = 0): Promise<Server> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
const portOf = (s: Server): number => (s.address() as { port: number }).port;
const closed = (s: Server): Promise<void> => new Promise((r) => s.close(() => r()));

describe('the exporter counts exits by VM in the kernel unless --metrics-vcpu asks for vCPUs', () => {
  beforeEach(() => void vi.spyOn(process.stderr, 'write').mockImplementation((() => true) as never));
  afterEach(() => vi.restoreAllMocks());

  /** The options exporterCommand starts collection with (the stub's stream ends at once: status 1). */
  async function startedWith(metrics: { perVcpu?: boolean }): Promise<LiveOptions> {
    let seen: LiveOptions | undefined;
    const status = await exporterCommand({ interval: 1000, pid: [], reason: [], listen: '127.0.0.1:0', metrics }, async (o) => {
      seen = o;
      return { agg: { ended: { complete: false } }, stop: async () => undefined } as unknown as Live;
    });
    expect(status).toBe(1);
    return seen as LiveOptions;
  }

  it.each([
    ['the default (no vCPU label)', {}, false],
    ['--metrics-vcpu', { perVcpu: true }, true],
  ] as const)('%s: exitsByThread %s', async (_, metrics, byThread) => {
    expect((await startedWith(metrics)).exitsByThread).toBe(byThread);
  });

  it('counts keyed by VM never reach a recording or a server (the stream\'s exits[].tid is a thread there)', async () => {
    const o: LiveOptions = { interval: 1000, pid: [], reason: [], exitsByThread: false, output: join(tmpdir(), 'never-written.jsonl') };
    await expect(startLiveIn(o, () => undefined, {} as never, [], [], undefined)).rejects.toThrow(/not with a recording or a server/);
  });
});

describe('exporter argument errors: error [CODE], fix:, status 2, nothing traced', () => {
  let stderr = '';
  let dir: string;
  beforeEach(() => {
    stderr = '';
    dir = mkdtempSync(join(tmpdir(), 'exporter-test-'));
    vi.spyOn(process.stderr, 'write').mockImplementation(((s: string) => {
      stderr += s;
      return true;
    }) as never);
    vi.spyOn(process.stdout, 'write').mockImplementation((() => true) as never);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
  const cli = async (...args: string[]): Promise<number> => {
    process.exitCode = undefined;
    await main(['node', 'exitscope', 'exporter', ...args]);
    return Number(process.exitCode ?? 0);
  };
  const codeIn = (): string | undefined => /exitscope: error \[([A-Z_]+)\]/.exec(stderr)?.[1];

  it.each([
    [[], 'USAGE', /missing required argument/],
    [['99999'], 'BAD_LISTEN', /expected \[ADDR:\]PORT/],
    [['host:name:1'], 'BAD_LISTEN', /expected \[ADDR:\]PORT/],
    [['9477', '--metrics-max-vms', 'many'], 'USAGE', /--metrics-max-vms takes a whole number/],
    [['9477', '--metrics-gone-grace', '-1'], 'USAGE', /--metrics-gone-grace/],
    [['9477', '--read-token', 'a', '--read-token-file', '/x'], 'USAGE', /both give the token/],
    [['9477', '--read-token', ' '], 'USAGE', /--read-token is empty/],
    [['9477', '--read-token-file', '/nonexistent/token'], 'TOKEN_FILE', /cannot read the token file \/nonexistent\/token: ENOENT/],
    [['9477', '--token', 'x'], 'USAGE', /unknown option '--token'/],
  ])('%j is %s', async (args, code, message) => {
    expect(await cli(...args)).toBe(2);
    expect(codeIn()).toBe(code);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/\n {2}fix: /);
  });

  it('a token file that is empty or has two lines is TOKEN_FILE', async () => {
    for (const [content, why] of [['\n', 'is empty'], ['one\ntwo\n', 'has more than one line']] as const) {
      const f = join(dir, 'token');
      writeFileSync(f, content);
      stderr = '';
      expect(await cli('9477', '--read-token-file', f)).toBe(2);
      expect(codeIn()).toBe('TOKEN_FILE');
      expect(stderr).toContain(why);
    }
  });

  it('a port already taken is PORT_IN_USE, said before bpftrace is started', async () => {
    const taken = await listenOn();
    try {
      expect(await cli(String(portOf(taken)))).toBe(2);
      expect(codeIn()).toBe('PORT_IN_USE');
    } finally {
      await closed(taken);
    }
  });

  it('on a machine that cannot trace: the same error as the checks give (as top), and the port is free again', async () => {
    const stop = blocking(await detectCapabilities());
    if (!stop) return; // this machine can trace: the lab e2e runs the exporter for real
    const free = await listenOn();
    const port = portOf(free);
    await closed(free);
    expect(await cli(String(port))).toBe(2);
    expect(codeIn()).toBe(`NO_${stop.name.toUpperCase().replace(/[^A-Z]+/g, '_').replace(/_$/, '')}`);
    await closed(await listenOn(port)); // nothing listens there any more
  });
});

/** The cumulative exit totals the stand-in's frames reach, in order (it replays this capture). */
function captureTotals(): number[] {
  const frames: Frame[] = [];
  const p = new BpftraceOutputParser();
  p.push(readFileSync(join(import.meta.dirname, '../fixtures/bpftrace/mix-3-vcpus-2-npt-on.bpftrace.jsonl'), 'utf8'), (e) => e.kind === 'frame' && frames.push(e.frame));
  p.end(() => undefined);
  // a one-copy capture (cumulative): its copy's totals
  return frames.map((f) => [...f.copies.values()].flatMap((c) => [...c.exits.values()]).reduce((a, n) => a + Number(n), 0));
}

describe('the exporter as a process (on the bpftrace stand-in)', () => {
  let script: string;
  beforeAll(async () => {
    script = await bundleScript(join(import.meta.dirname, 'support/exporter-on-fake.ts'));
  });
  afterAll(() => removeBundle(script));

  function start(listen: string, env: Record<string, string> = {}) {
    const p = spawn(process.execPath, [script, FAKE, listen], { env: { ...process.env, FAKE_BPFTRACE_MODE: 'normal', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => p.on('close', (code, signal) => resolve({ code, signal })));
    return { p, exited, stderr: () => stderr };
  }

  it.each(['SIGTERM', 'SIGINT'] as const)('serves exact counts and health; off loopback only with its generated token; %s stops it with status 0', async (signal) => {
    const x = start('0.0.0.0:0');
    try {
      await expect.poll(() => /metrics at http:\/\/0\.0\.0\.0:(\d+)\/metrics/.exec(x.stderr()), { timeout: 15_000 }).toBeTruthy();
      const port = Number(/metrics at http:\/\/0\.0\.0\.0:(\d+)\/metrics/.exec(x.stderr())?.[1]);
      const token = /\(token: ([A-Za-z0-9_-]+)\)/.exec(x.stderr())?.[1] as string;
      expect(token.length).toBeGreaterThan(20);
      expect(x.stderr().split(token).length - 1).toBe(1); // printed once
      const auth = { authorization: `Bearer ${token}` };
      expect((await get(port, '/metrics')).status).toBe(401);
      expect((await get(port, '/healthz')).status).toBe(401);
      await expect.poll(async () => (await get(port, '/healthz', auth)).status, { timeout: 15_000 }).toBe(200);
      const totals = captureTotals();
      const a = await get(port, '/metrics', auth);
      expect(a.status).toBe(200);
      const samples = parseSamples(a.body);
      // the stand-in's cumulative counts at some frame: the sum of the deltas is exactly one of them
      expect(totals).toContain(sumOf(samples, 'exitscope_exits_total'));
      expect(sumOf(samples, 'exitscope_nested_paging')).toBe(1);
      expect(samples.some((s) => s.name === 'process_resident_memory_bytes')).toBe(true);
      // nothing else is served
      expect((await get(port, '/', auth)).status).toBe(404);
      expect((await get(port, '/stream', { ...auth, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' })).status).toBe(404);
      x.p.kill(signal);
      expect(await x.exited).toEqual({ code: 0, signal: null });
      expect(x.stderr()).not.toMatch(/\n\s+at /); // no stack
      await expect(get(port, '/metrics', auth)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      x.p.kill('SIGKILL');
    }
  });

  it('on loopback with --read-token: the token is required (no token is generated or printed)', async () => {
    const x = start('127.0.0.1:0', { READ_TOKEN: 'scrape-secret' });
    try {
      await expect.poll(() => /metrics at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(x.stderr()), { timeout: 15_000 }).toBeTruthy();
      const port = Number(/metrics at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(x.stderr())?.[1]);
      expect(x.stderr()).not.toContain('scrape-secret');
      expect((await get(port, '/metrics')).status).toBe(401);
      expect((await get(port, '/metrics', { authorization: 'Bearer scrape-secret' })).status).toBe(200);
      x.p.kill('SIGTERM');
      expect((await x.exited).code).toBe(0);
    } finally {
      x.p.kill('SIGKILL');
    }
  });
});
