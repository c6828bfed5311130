/**
 * The WebSocket server with real clients on real sockets (ws), fed by a real
 * lab recording: what clients receive adds up to the recording's totals (late
 * joiners included), and the hostile-client suite: bad JSON, unknown types,
 * huge frames, floods, wrong token, wrong Origin, too many clients, a dead
 * peer, and a client that never reads, with the others' delivery checked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Aggregate } from '../../src/model/aggregate.js';
import { type Message, Message as MessageSchema, type SnapshotMessage } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { isLoopback, StreamServer } from '../../src/server/server.js';
import { parseListen } from '../../src/server/listen-spec.js';
import { SnapshotMerger } from '../../src/server/merge.js';
import { MessageProgress } from '../../src/server/message-progress.js';
import { parseRequestTarget } from '../../src/server/request-target.js';
import { printable, rateLimitedLog } from '../../src/server/server-log.js';
import { until as untilFor } from './support/ink-wait.js';
import { exchange, frame, HEAD_WAIT_MS, headersOf, type RawExchange, rawWebSocket, statusOf, upgradeRequest } from './support/raw-client.js';
import { useTestServers } from './support/test-servers.js';

const FIX = join(import.meta.dirname, '../fixtures');
const messages = parseRecording(readFileSync(join(FIX, 'recordings', 'run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages;
const exitTotal = (ms: readonly Message[]): number => ms.reduce((n, m) => (m.type === 'snapshot' ? n + m.exits.reduce((a, e) => a + e.n, 0) : n), 0);
const tick = (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms));

const { serve } = useTestServers();

interface TestClient {
  ws: WebSocket;
  got: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
}

function connect(url: string, opts: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const got: Record<string, unknown>[] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('message', (d) => got.push(JSON.parse(String(d)) as Record<string, unknown>));
    ws.on('open', () => resolve({ ws, got, closed }));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', (e) => reject(e));
  });
}

const streamOf = (c: TestClient): Message[] => c.got.map((m) => MessageSchema.safeParse(m)).filter((r) => r.success).map((r) => r.data as Message);

/** Waits for a condition; the bound (generous: it only matters when the code is broken) is no timing claim. */
const until = (cond: () => boolean, what = 'a condition', ms = 10_000): Promise<void> => untilFor(cond, what, ms);

/** A promise that must settle, with a generous bound so that a broken server fails the test with a reason. */
async function within<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The server's own record of a client's unfinished message (when it started), for the message-deadline tests. */
function unfinishedSince(server: StreamServer): (number | undefined)[] {
  const clients = (server as unknown as { clients?: Set<{ progress?: { unfinishedSince?: number } }> }).clients;
  if (!clients) throw new Error('StreamServer has no `clients` any more: update this test');
  return [...clients].map((c) => {
    if (!c.progress) throw new Error('a StreamServer client has no `progress` any more: update this test');
    return c.progress.unfinishedSince;
  });
}

describe('the stream over WebSocket', () => {
  it('a client from the start and one joining halfway both add up to the recording, exit by exit', async () => {
    const { server, url } = await serve();
    const early = await connect(url);
    // join after two snapshots: those reach the late client merged into one
    const secondSnapshot = messages.findIndex((m, i) => m.type === 'snapshot' && messages.slice(0, i).some((x) => x.type === 'snapshot'));
    const half = secondSnapshot + 1;
    for (const m of messages.slice(0, half)) server.publish(m);
    await tick();
    const late = await connect(url);
    for (const m of messages.slice(half)) server.publish(m);
    await until(() => streamOf(early).some((m) => m.type === 'end') && streamOf(late).some((m) => m.type === 'end'));
    expect(early.got[0]).toMatchObject({ type: 'welcome', v: 1, rights: 'control' });
    const want = new Aggregate();
    for (const m of messages) want.apply(m);
    for (const c of [early, late]) {
      const agg = new Aggregate();
      for (const m of streamOf(c)) agg.apply(m);
      expect(exitTotal(streamOf(c))).toBe(exitTotal(messages));
      expect([...agg.total.exits].sort()).toEqual([...want.total.exits].sort());
      expect(streamOf(c)[0]?.type).toBe('hello');
    }
    // the late joiner got the first half as one merged snapshot, after the hello and the VMs
    const merged = streamOf(late).find((m): m is SnapshotMessage => m.type === 'snapshot');
    expect(merged?.merged).toBe(2);
  });

  it('subscribe narrows what a client receives; ping answers pong', async () => {
    const { server, url } = await serve();
    const c = await connect(url);
    c.ws.send(JSON.stringify({ type: 'subscribe', topics: ['vm', 'end'] }));
    c.ws.send(JSON.stringify({ type: 'ping' }));
    // messages are handled in order: once the pong is here, the subscription is in force
    await until(() => c.got.some((m) => m.type === 'pong'), 'the pong');
    for (const m of messages) server.publish(m);
    await until(() => streamOf(c).some((m) => m.type === 'end'));
    expect(new Set(streamOf(c).map((m) => m.type))).toEqual(new Set(['hello', 'vm', 'end']));
    expect(c.got.some((m) => m.type === 'pong')).toBe(true);
  });

  it('merging snapshots is exact: the sum of the parts', () => {
    const snaps = messages.filter((m): m is SnapshotMessage => m.type === 'snapshot');
    const merger = new SnapshotMerger();
    for (const s of snaps) merger.add(s);
    const one = merger.take();
    expect(one?.merged).toBe(snaps.length);
    expect(exitTotal([one as Message])).toBe(exitTotal(snaps));
    expect(one?.ms).toBe(snaps.reduce((n, s) => n + s.ms, 0));
    expect(merger.take()).toBeUndefined();
  });
});

describe('hostile clients', () => {
  it('bad JSON and unknown types are answered with reject; repeated, the connection is closed with 1008; the server goes on', async () => {
    const { server, url } = await serve({ maxBadMessages: 3 });
    const bad = await connect(url);
    const good = await connect(url);
    bad.ws.send('{not json');
    bad.ws.send(JSON.stringify({ type: 'shutdown' }));
    await until(() => bad.got.filter((m) => m.type === 'reject').length === 2);
    expect(bad.got.filter((m) => m.type === 'reject').map((m) => m.code)).toEqual(['BAD_JSON', 'BAD_MESSAGE']);
    bad.ws.send(JSON.stringify({ type: 'subscribe', topics: ['nope'] }));
    expect((await bad.closed).code).toBe(1008);
    for (const m of messages) server.publish(m);
    await until(() => streamOf(good).some((m) => m.type === 'end'));
    expect(exitTotal(streamOf(good))).toBe(exitTotal(messages));
  });

  it('a frame above maxPayload closes that connection with 1009', async () => {
    const { url } = await serve({ maxPayload: 1024 });
    const c = await connect(url);
    c.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(5000) }));
    expect((await c.closed).code).toBe(1009);
  });

  it('a flood of messages closes the connection with 1008', async () => {
    const { url } = await serve({ maxMessagesPerSecond: 10 });
    const c = await connect(url);
    for (let i = 0; i < 50; i++) c.ws.send(JSON.stringify({ type: 'ping' }));
    const closed = await c.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toBe('too many messages');
  });

  it('tokens: none or a wrong one is refused (401) before any socket; read-only may watch, not ask for flames', async () => {
    let asked = 0;
    const { url } = await serve({ tokens: { read: 'r-secret', control: 'c-secret' }, onFlameRequest: () => {
      asked++;
      return undefined;
    } });
    await expect(connect(url)).rejects.toThrow('HTTP 401');
    await expect(connect(`${url}?token=wrong`)).rejects.toThrow('HTTP 401');
    const reader = await connect(`${url}?token=r-secret`);
    expect(reader.got[0]).toMatchObject({ type: 'welcome', rights: 'read' });
    reader.ws.send(JSON.stringify({ type: 'flame', seconds: 2 }));
    await until(() => reader.got.some((m) => m.type === 'reject'));
    expect(reader.got.find((m) => m.type === 'reject')).toMatchObject({ code: 'FORBIDDEN' });
    const controller = await connect(url, { headers: { authorization: 'Bearer c-secret' } });
    expect(controller.got[0]).toMatchObject({ type: 'welcome', rights: 'control' });
    controller.ws.send(JSON.stringify({ type: 'flame', seconds: 2 }));
    await until(() => asked === 1);
  });

  it('a browser Origin not on the allow-list is refused (403); the server\'s own and listed ones are not', async () => {
    const { url } = await serve({ allowOrigins: ['https://dash.example'] });
    await expect(connect(url, { headers: { origin: 'https://evil.example' } })).rejects.toThrow('HTTP 403');
    const port = new URL(url).port;
    await connect(url, { headers: { origin: `http://127.0.0.1:${port}` } });
    await connect(url, { headers: { origin: 'https://dash.example' } });
    // our own page behind a port forward: Origin = the Host the browser used (an IP address)
    await connect(url, { headers: { origin: 'http://127.0.0.1:40123', host: '127.0.0.1:40123' } });
    // DNS rebinding: a domain name that resolves here is not our page
    await expect(connect(url, { headers: { origin: 'http://rebind.example:8080', host: 'rebind.example:8080' } })).rejects.toThrow('HTTP 403');
    await expect(connect(url, { headers: { origin: 'http://127.0.0.1:1', host: '127.0.0.1:2' } })).rejects.toThrow('HTTP 403');
  });

  it('beyond maxClients: 503; a non-loopback address without a token is refused at construction', async () => {
    const { url } = await serve({ maxClients: 2 });
    await connect(url);
    await connect(url);
    await expect(connect(url)).rejects.toThrow('HTTP 503');
    expect(() => new StreamServer({ host: '0.0.0.0', port: 0 })).toThrow(/needs a token/);
    expect(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost') && !isLoopback('0.0.0.0')).toBe(true);
    expect(parseListen('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::]:9')).toEqual({ host: '::', port: 9 });
    expect(() => parseListen('99999')).toThrow();
    expect(() => parseListen('a b:1')).toThrow();
  });

  it('a dead peer (no pong) is terminated by the heartbeat', async () => {
    const { server, url } = await serve({ heartbeatMs: 100 });
    const c = await connect(url, { autoPong: false });
    await c.closed;
    expect(server.clientCount).toBe(0);
  });

  it('a client that never reads: its frames are merged while it is behind, then it is terminated; the others get everything; its buffer stays bounded', { timeout: 60_000 }, async () => {
    const high = 64 * 1024;
    const { server, url } = await serve({ highWaterBytes: high, stuckMs: 3000 });
    const stalled = await connect(url);
    const others = await Promise.all([connect(url), connect(url)]);
    // stop reading: the kernel's buffers fill, then the server's send buffer for it grows
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const base = messages.find((m): m is SnapshotMessage => m.type === 'snapshot') as SnapshotMessage;
    // a big snapshot (~10 KB): 200 vCPU threads
    const big: SnapshotMessage = { ...base, exits: Array.from({ length: 200 }, (_, i) => ({ pid: 7, tid: 1000 + i, isa: 2, reason: 123, n: 1 })) };
    const frame = JSON.stringify(big).length;
    /** Snapshots a client received, merged ones counted as what they stand for, and the exits in them. */
    const received = (c: TestClient): { snapshots: number; exits: number } => {
      let snapshots = 0;
      let exits = 0;
      for (const m of c.got) {
        if (m.type !== 'snapshot') continue;
        snapshots += (m.merged as number | undefined) ?? 1;
        for (const e of m.exits as { n: number }[]) exits += e.n;
      }
      return { snapshots, exits };
    };
    let sent = 0;
    let maxBuffered = 0;
    const burst = (): void => {
      for (let i = 0; i < 40; i++) {
        server.publish({ ...big, seq: sent++ });
        for (const st of server.stats()) maxBuffered = Math.max(maxBuffered, st.buffered);
      }
    };
    const othersHaveAll = (): boolean => others.every((o) => received(o).snapshots === sent);
    // Publish until it is behind, however large this machine's socket buffers are. After each burst
    // the others are let catch up: then their mergers are empty, so a merged count is the stalled
    // client's. (It is terminated only stuckMs after falling behind: far longer than a catch-up.)
    let stalledMerged = 0;
    const t0 = Date.now();
    while (stalledMerged === 0 && server.clientCount === 3) {
      if (Date.now() - t0 > 20_000) throw new Error(`the client that never reads was not behind after ${sent} snapshots`);
      burst();
      await until(othersHaveAll, 'the reading clients to receive every snapshot so far');
      if (server.clientCount === 3) stalledMerged = Math.max(0, ...server.stats().map((st) => st.merged));
    }
    expect(stalledMerged).toBeGreaterThan(0);
    // more while it is behind: merged for it, not sent (its buffer would grow)
    burst();
    burst();
    expect(maxBuffered).toBeLessThanOrEqual(high + 2 * frame);
    await until(() => server.clientCount === 2, 'the client that never reads to be terminated (stuckMs)', 20_000);
    for (const o of others) expect(o.ws.readyState).toBe(WebSocket.OPEN);
    for (let i = 0; i < 10; i++) server.publish({ ...big, seq: sent++ });
    await until(othersHaveAll, 'the reading clients to receive every snapshot');
    for (const o of others) expect(received(o)).toEqual({ snapshots: sent, exits: sent * 200 });
  });
});

describe('what a client sends cannot crash the server or hold a slot (issue 9)', () => {
  const portOf = (url: string): number => Number(new URL(url).port);
  const get = (path: string, headers = ''): string => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`;
  /** An exchange whose answer a test asserts on: waits for the answer's head, however late (see awaitHead). */
  const answer = (port: number, chunks: string[]): Promise<RawExchange> => exchange(port, chunks, 1000, { awaitHead: true });
  /** The server still does its job: a client with the token gets welcome and a published snapshot. */
  async function stillServes(server: StreamServer, url: string, token?: string): Promise<void> {
    const c = await connect(token ? `${url}?token=${token}` : url);
    expect(c.got[0]).toMatchObject({ type: 'welcome' });
    const snap = messages.find((m) => m.type === 'snapshot') as Message;
    server.publish(snap);
    await until(() => streamOf(c).some((m) => m.type === 'snapshot'));
    c.ws.close();
  }

  it.each(['//', '//[::', '//:99999', '//[::]:1/stream', '/%zz?token=%', 'http://[::/stream', '//stream', '/%'])('GET %s: a plain 404 with nosniff, and the server goes on', async (path) => {
    const log: string[] = [];
    const { server, url } = await serve({ tokens: { control: 'c-secret' }, onLog: (l) => log.push(l) });
    const r = await answer(portOf(url), [get(path)]);
    expect(statusOf(r.bytes)).toBe(404);
    expect(headersOf(r.bytes)).toMatchObject({ 'x-content-type-options': 'nosniff', 'content-type': 'text/plain; charset=utf-8' });
    await stillServes(server, url, 'c-secret');
    expect(log).toEqual([]); // no handler threw: these are handled, not caught
  });

  it.each(['//', '//[::', '//:99999'])('a WebSocket upgrade on %s: a plain 404 with nosniff, and the server goes on', async (path) => {
    const { server, url } = await serve({ tokens: { control: 'c-secret' } });
    const r = await answer(portOf(url), [upgradeRequest(`${path}?token=c-secret`)]);
    expect(statusOf(r.bytes)).toBe(404);
    expect(headersOf(r.bytes)['x-content-type-options']).toBe('nosniff');
    await stillServes(server, url, 'c-secret');
  });

  it('every plain answer carries nosniff and a content-type: 401, 403, 503, ws\'s own 400 and 405, a malformed request line', async () => {
    const { url } = await serve({ tokens: { control: 'c-secret' }, maxClients: 1 });
    const port = portOf(url);
    const answers = {
      401: await answer(port, [upgradeRequest('/stream')]),
      403: await answer(port, [upgradeRequest('/stream?token=c-secret', { origin: 'https://evil.example' })]),
      400: await answer(port, [upgradeRequest('/stream?token=c-secret', { 'sec-websocket-key': 'short' })]),
      405: await answer(port, [upgradeRequest('/stream?token=c-secret').replace(/^GET/, 'POST')]),
    };
    for (const [status, r] of Object.entries(answers)) {
      expect(statusOf(r.bytes), status).toBe(Number(status));
      expect(headersOf(r.bytes), status).toMatchObject({ 'x-content-type-options': 'nosniff', 'content-type': 'text/plain; charset=utf-8' });
    }
    // found by the fuzz: Node's own 400 for an HTTP/1.1 request without Host, and 417 for an odd Expect
    const noHost = await answer(port, ['TRACE /% HTTP/1.1\r\n\r\n']);
    const expectation = await answer(port, [get('/', 'Expect: something-else\r\n')]);
    for (const [status, r] of [[400, noHost], [417, expectation]] as const) {
      expect(statusOf(r.bytes)).toBe(status);
      expect(headersOf(r.bytes), String(status)).toMatchObject({ 'x-content-type-options': 'nosniff', 'content-type': 'text/plain; charset=utf-8' });
    }
    const garbage = await exchange(port, ['GARBAGE \x01\x02 nonsense\r\n\r\n'], HEAD_WAIT_MS); // the server closes it: waited for (bounded), as asserted below
    expect(statusOf(garbage.bytes)).toBe(400);
    expect(headersOf(garbage.bytes)['x-content-type-options']).toBe('nosniff');
    expect(garbage.closedByServer).toBe(true);
    await connect(`${url}?token=c-secret`);
    const full = await answer(port, [upgradeRequest('/stream?token=c-secret')]);
    expect(statusOf(full.bytes)).toBe(503);
    expect(headersOf(full.bytes)['x-content-type-options']).toBe('nosniff');
  });

  it('a handler that throws anyway: the client gets a 400 or is dropped, the log gets one line, the server goes on', async () => {
    const log: string[] = [];
    const { server, url } = await serve({
      page: () => {
        throw new Error('page broke');
      },
      onFlameRequest: () => {
        throw new Error('flame broke');
      },
      onLog: (l) => log.push(l),
    });
    const r = await answer(portOf(url), [get('/')]);
    expect(statusOf(r.bytes)).toBe(400);
    expect(headersOf(r.bytes)['x-content-type-options']).toBe('nosniff');
    expect(log.join('\n')).toContain('page broke');
    // the upgrade handler itself (reached here by replacing it: nothing a client sends makes it throw now)
    const upgrade = (server as unknown as { upgrade: unknown }).upgrade;
    (server as unknown as { upgrade: () => void }).upgrade = () => {
      throw new TypeError('Invalid URL');
    };
    const u = await answer(portOf(url), [upgradeRequest('/stream')]);
    expect(statusOf(u.bytes)).toBe(400);
    expect(log.join('\n')).toContain('Invalid URL');
    (server as unknown as { upgrade: unknown }).upgrade = upgrade;
    // a per-client callback: that client is dropped, the others are not
    const c = await connect(url);
    c.ws.send(JSON.stringify({ type: 'flame', seconds: 2 }));
    await c.closed;
    expect(log.join('\n')).toContain('flame broke');
    await stillServes(server, url);
  });

  it('a request whose headers never end, or a connection that never sends one, is answered 408 and closed (headersTimeoutMs)', async () => {
    const { server, url } = await serve({ headersTimeoutMs: 200 });
    for (const sent of [['GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'], []]) {
      const r = await exchange(portOf(url), sent, 10_000);
      expect(r.closedByServer).toBe(true);
      expect(statusOf(r.bytes)).toBe(408);
    }
    await stillServes(server, url);
  });

  it('a message left unfinished (FIN=0, never continued) is terminated even while the client answers every ping', async () => {
    const log: string[] = [];
    // The heartbeat is long (a stall of the event loop longer than it would make this in-process
    // client look dead): the unfinished message starts as the first ping is answered, and the
    // deadline, shorter than a heartbeat, is what cuts it off.
    const { server, url } = await serve({ tokens: { read: 'r-secret' }, heartbeatMs: 2000, messageDeadlineMs: 300, onLog: (l) => log.push(l) });
    let pongs = 0;
    let keepTrying: NodeJS.Timeout | undefined;
    const raw = await rawWebSocket(portOf(url), '/stream?token=r-secret', {}, (f, s) => {
      // a ping from the server: answered at once, as a live peer does (the first one after the message has begun)
      if (f.opcode === 0x9 && !s.destroyed) {
        if (pongs === 0) {
          s.write(frame({ opcode: 0x1, fin: false, payload: '{"type":' }));
          // empty continuations do not finish it either
          keepTrying = setInterval(() => s.destroyed || s.write(frame({ opcode: 0x0, fin: false })), 50);
        }
        s.write(frame({ opcode: 0xa, payload: f.payload }));
        pongs++;
      }
    });
    await within(raw.closed, 'the connection to be cut off');
    clearInterval(keepTrying);
    expect(pongs).toBeGreaterThan(0); // it was alive by the heartbeat's measure
    expect(log.join('\n')).toMatch(/unfinished/);
    await until(() => server.clientCount === 0, 'the server to forget the client');
    await stillServes(server, url, 'r-secret');
  });

  it('a frame cut off halfway is terminated too (no heartbeat needed)', async () => {
    const { server, url } = await serve({ heartbeatMs: 60_000, messageDeadlineMs: 300 });
    const raw = await rawWebSocket(portOf(url), '/stream');
    raw.socket.write(frame({ opcode: 0x1, payload: JSON.stringify({ type: 'ping' }) }).subarray(0, 5));
    await raw.closed;
    await until(() => server.clientCount === 0);
  });

  it('a client that finishes its messages, fragmented or split across writes, is not cut off', async () => {
    // a deadline far beyond the gaps below (an event-loop stall would have to outlast it); the
    // server's own record of the unfinished message is checked, so no wait for the deadline is needed
    const { server, url } = await serve({ heartbeatMs: 60_000, messageDeadlineMs: 10_000 });
    const raw = await rawWebSocket(portOf(url), '/stream');
    const body = JSON.stringify({ type: 'ping' });
    const pongs = (): number => raw.received.filter((f) => f.opcode === 0x1 && f.payload.toString().includes('"pong"')).length;
    for (let i = 0; i < 8; i++) {
      const parts = Buffer.concat([frame({ opcode: 0x1, fin: false, payload: body.slice(0, 4) }), frame({ opcode: 0x9, payload: 'x' }), frame({ opcode: 0x0, payload: body.slice(4) })]);
      raw.socket.write(parts.subarray(0, 3));
      // the server has read the first bytes: the message's clock runs
      await until(() => unfinishedSince(server)[0] !== undefined, `the server to see message ${i + 1} begin`);
      raw.socket.write(parts.subarray(3));
      // the pong: the server has read the whole message (and fed it to its progress, in the same read)
      await until(() => pongs() === i + 1, `the pong to message ${i + 1}`);
      expect(unfinishedSince(server)).toEqual([undefined]);
    }
    expect(raw.isClosed()).toBe(false);
    expect(pongs()).toBe(8);
    expect(server.clientCount).toBe(1);
    raw.socket.destroy();
  });
});

describe('the parts of that', () => {
  it('request targets: never a throw, never a host read from the target', () => {
    for (const raw of ['//', '//[::', '//:99999', '%', '%%%', '/\u0000\u00ff?%zz=%', '', undefined, 'x'.repeat(100_000)]) expect(() => parseRequestTarget(raw)).not.toThrow();
    expect(parseRequestTarget('//').path).toBe('//');
    expect(parseRequestTarget('//stream').path).toBe('//stream');
    expect(parseRequestTarget('/stream?token=a+b%2Fc&x').query.get('token')).toBe('a b/c');
    expect(parseRequestTarget('/stream?token=%zz').query.get('token')).toBe('%zz');
    expect(parseRequestTarget('http://h:1/stream?token=t#frag')).toMatchObject({ path: '/stream' });
    expect(parseRequestTarget('http://h:1/stream?token=t#frag').query.get('token')).toBe('t');
    expect(parseRequestTarget('http://[::').path).toBe('/');
  });

  it('message progress: follows frame boundaries byte by byte; control frames and empty continuations do not finish a message', () => {
    const p = new MessageProgress();
    const whole = frame({ opcode: 0x1, payload: 'x'.repeat(300) }); // a 16-bit length
    for (const [i, b] of [...whole].entries()) {
      p.feed(Buffer.from([b]), i);
      expect(p.unfinishedSince).toBe(i === whole.length - 1 ? undefined : 0);
    }
    p.feed(frame({ opcode: 0x2, fin: false, payload: 'a' }), 10);
    p.feed(Buffer.concat([frame({ opcode: 0x9 }), frame({ opcode: 0xa, payload: 'p' }), frame({ opcode: 0x0, fin: false })]), 20);
    expect(p.unfinishedSince).toBe(10);
    p.feed(frame({ opcode: 0x0, payload: 'end' }), 30);
    expect(p.unfinishedSince).toBeUndefined();
    // a message finished and the next begun in one chunk: the clock restarts
    p.feed(Buffer.concat([frame({ opcode: 0x1, payload: 'a' }), frame({ opcode: 0x1, payload: 'bc' }).subarray(0, 3)]), 40);
    expect(p.unfinishedSince).toBe(40);
    const big = new MessageProgress();
    big.feed(frame({ opcode: 0x1, declaredLength: 2 ** 40, masked: false }), 50);
    expect(big.unfinishedSince).toBe(50);
    const unmasked = new MessageProgress();
    unmasked.feed(frame({ opcode: 0x1, payload: 'hi', masked: false }), 60);
    expect(unmasked.unfinishedSince).toBeUndefined();
  });

  it('the server log: rate-limited per window with a count of what was left out; control characters escaped', () => {
    let now = 0;
    const out: string[] = [];
    const log = rateLimitedLog((l) => out.push(l), { perWindow: 3, windowMs: 1000, now: () => now });
    for (let i = 0; i < 100; i++) log(`line ${i}`);
    expect(out).toEqual(['line 0', 'line 1', 'line 2']);
    now = 1000;
    log('later');
    expect(out.slice(3)).toEqual(['97 more lines left out (rate limit)', 'later']);
    expect(printable('a\u001b[31mred\r\nb\u2028\u202e')).toBe('a\\x1b[31mred\\x0d\\x0ab\\u2028\\u202e');
    expect(printable('x'.repeat(1000), 10)).toBe(`${'x'.repeat(10)}…`);
  });
});
