/**
 * The WebSocket server with real clients on real sockets (ws), fed by a real
 * lab recording: what clients receive adds up to the recording's totals (late
 * joiners included), and the hostile-client suite: bad JSON, unknown types,
 * huge frames, floods, wrong token, wrong Origin, too many clients, a dead
 * peer, and a client that never reads, with the others' delivery checked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Aggregate } from '../../src/model/aggregate.js';
import { type Message, Message as MessageSchema, type SnapshotMessage } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { isLoopback, StreamServer, type StreamServerOptions } from '../../src/server/server.js';
import { parseListen } from '../../src/server/listen-spec.js';
import { SnapshotMerger } from '../../src/server/merge.js';

const FIX = join(import.meta.dirname, '../fixtures');
const messages = parseRecording(readFileSync(join(FIX, 'recordings', 'run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages;
const exitTotal = (ms: readonly Message[]): number => ms.reduce((n, m) => (m.type === 'snapshot' ? n + m.exits.reduce((a, e) => a + e.n, 0) : n), 0);
const tick = (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms));

let servers: StreamServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(o: Partial<StreamServerOptions> = {}): Promise<{ server: StreamServer; url: string }> {
  const server = new StreamServer({ host: '127.0.0.1', port: 0, ...o });
  servers.push(server);
  const { port } = await server.listen();
  return { server, url: `ws://127.0.0.1:${port}/stream` };
}

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

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await tick(20);
  }
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
    await tick();
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

  it('a client that never reads: its frames are merged while it is behind, then it is terminated; the others get everything; its buffer stays bounded', async () => {
    const high = 64 * 1024;
    const { server, url } = await serve({ highWaterBytes: high, stuckMs: 1500 });
    const stalled = await connect(url);
    const others = await Promise.all([connect(url), connect(url)]);
    // stop reading: the kernel's buffers fill, then the server's send buffer for it grows
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const base = messages.find((m): m is SnapshotMessage => m.type === 'snapshot') as SnapshotMessage;
    // a big snapshot (~10 KB): 200 vCPU threads
    const big: SnapshotMessage = { ...base, exits: Array.from({ length: 200 }, (_, i) => ({ pid: 7, tid: 1000 + i, isa: 2, reason: 123, n: 1 })) };
    const frame = JSON.stringify(big).length;
    let sent = 0;
    let maxBuffered = 0;
    let maxMerged = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 2500 && server.clientCount === 3) {
      for (let i = 0; i < 40; i++) server.publish({ ...big, seq: sent++ });
      for (const st of server.stats()) {
        maxBuffered = Math.max(maxBuffered, st.buffered);
        maxMerged = Math.max(maxMerged, st.merged);
      }
      await tick(5);
    }
    // it fell behind (snapshots merged for it), its buffer never went past the mark by more than a frame
    expect(maxMerged).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(high + 2 * frame);
    await until(() => server.clientCount === 2, 5000);
    for (let i = 0; i < 10; i++) server.publish({ ...big, seq: sent++ });
    await tick(300);
    for (const o of others) {
      const snaps = streamOf(o).filter((m): m is SnapshotMessage => m.type === 'snapshot');
      expect(snaps.reduce((n, m) => n + (m.merged ?? 1), 0)).toBe(sent);
      expect(snaps.reduce((n, m) => n + m.exits.reduce((a, e) => a + e.n, 0), 0)).toBe(sent * 200);
    }
  });
});
