/**
 * The collector's own cost over WebSocket: the meter (src/collector/self-usage.ts, shared with the
 * terminal header), the `collector` server message from a real StreamServer to real clients
 * (schema-checked, a read-only client included, the latest to a late client, the topic honoured,
 * kept alongside a flame result for a client that fell behind), and startServer's wiring: a live
 * server sends it timed as the stream, a replay server says `replay` in its welcome and sends none.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Live } from '../../src/commands/live.js';
import { selfUsageMeter } from '../../src/collector/self-usage.js';
import { Aggregate } from '../../src/model/aggregate.js';
import type { Message, SnapshotMessage } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { CollectorStatsMessage } from '../../src/server/client-messages.js';
import type { StreamServerOptions } from '../../src/server/server.js';
import { startServer } from '../../src/server/start.js';
import { selfStatsOf } from '../../ui/view-model.js';
import { useTestServers } from './support/test-servers.js';

const messages = parseRecording(readFileSync(join(import.meta.dirname, '../fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages;
const hello = messages[0] as Extract<Message, { type: 'hello' }>;
const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await tick();
  }
}

const { serve, track } = useTestServers();

interface TestClient {
  ws: WebSocket;
  got: Record<string, unknown>[];
}

function connect(url: string, token?: string): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    const got: Record<string, unknown>[] = [];
    ws.on('message', (d) => got.push(JSON.parse(String(d)) as Record<string, unknown>));
    ws.on('open', () => resolve({ ws, got }));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
  });
}

const collectorOf = (c: TestClient): CollectorStatsMessage[] => c.got.filter((m) => m.type === 'collector').map((m) => CollectorStatsMessage.parse(m));

describe('the meter (the terminal header and the server read the same one)', () => {
  it('CPU since the previous reading over the time between them; memory as read', () => {
    let ns = 1_000_000_000n;
    let cpu = { user: 5_000, system: 1_000 };
    const meter = selfUsageMeter({ clock: () => ns, cpuUsage: () => cpu, rss: () => 62 * 2 ** 20 });
    ns += 2_000_000_000n; // 2 s later
    cpu = { user: 5_000 + 100_000, system: 1_000 + 24_000 }; // 124 ms of CPU
    expect(meter()).toEqual({ cpu: 0.062, rssBytes: 62 * 2 ** 20, ms: 2000 });
    ns += 500_000_000n;
    cpu = { user: cpu.user + 500_000, system: cpu.system + 250_000 }; // 750 ms of CPU in 500 ms: 1.5 cores
    expect(meter().cpu).toBe(1.5);
    expect(meter()).toEqual({ cpu: 0, rssBytes: 62 * 2 ** 20, ms: 0 }); // no time passed
    expect(selfStatsOf({ cpu: 0.062, rssBytes: 62 * 2 ** 20 })).toEqual({ cpuPercent: 6.2, rssMiB: 62 });
  });

  it("the process's own figures: CPU burnt in between is counted, memory is the RSS", () => {
    const meter = selfUsageMeter();
    const t0 = process.cpuUsage();
    let x = 0;
    while (process.cpuUsage(t0).user < 20_000) x += Math.sqrt(x + 1); // 20 ms of CPU, at least
    const u = meter();
    expect(u.cpu).toBeGreaterThan(0);
    expect(u.ms).toBeGreaterThan(0);
    expect(u.rssBytes).toBeGreaterThan(1 << 20);
  });
});

describe('the `collector` server message', () => {
  it('a real server sends what it measured to a read-only client, schema-valid; a late client gets the latest at once, after the catch-up', async () => {
    const sent: CollectorStatsMessage[] = [];
    const meter = selfUsageMeter();
    const { server, url } = await serve({
      tokens: { read: 'r-secret', control: 'c-secret' },
      collectorEveryMs: 30,
      collectorStats: () => {
        const s = { t: 1000 * (sent.length + 1), ...meter() };
        sent.push({ type: 'collector', ...s });
        return s;
      },
    });
    const reader = await connect(url, 'r-secret');
    expect(reader.got[0]).toMatchObject({ type: 'welcome', rights: 'read', source: 'live' });
    expect(reader.got[0]?.topics).toContain('collector');
    for (const m of messages) server.publish(m);
    await until(() => collectorOf(reader).length >= 3);
    // exactly what the server measured, in order, and nothing else of that type
    const got = collectorOf(reader);
    const first = sent.findIndex((s) => s.t === got[0]?.t);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(got).toEqual(sent.slice(first, first + got.length));
    for (const g of got) {
      expect(g.cpu).toBeGreaterThanOrEqual(0);
      expect(g.rssBytes).toBeGreaterThan(0);
    }
    // a client joining now: welcome, the catch-up (hello ... end), then the latest measurement
    const late = await connect(url, 'r-secret');
    await until(() => late.got.some((m) => m.type === 'collector'));
    const types = late.got.map((m) => m.type);
    const at = types.indexOf('collector');
    expect(types.slice(0, 2)).toEqual(['welcome', 'hello']);
    expect(types.indexOf('end')).toBeLessThan(at);
    expect(sent.map((s) => s.t)).toContain(CollectorStatsMessage.parse(late.got[at]).t);
  });

  it('is a topic: a client subscribed to other topics gets none; nothing is sent while there is nothing to say', async () => {
    let ready = false;
    let asked = 0;
    const { server, url } = await serve({
      collectorEveryMs: 20,
      collectorStats: () => {
        asked++;
        return ready ? { t: 5, ms: 20, cpu: 0.5, rssBytes: 1234 } : undefined;
      },
    });
    const all = await connect(url);
    const some = await connect(url);
    some.ws.send(JSON.stringify({ type: 'subscribe', topics: ['snapshot', 'end'] }));
    await until(() => asked >= 3);
    expect(collectorOf(all)).toEqual([]);
    ready = true;
    await until(() => collectorOf(all).length >= 2);
    server.publish(messages[0] as Message);
    server.publish({ type: 'end', t: 1, complete: true });
    await until(() => some.got.some((m) => m.type === 'end') && all.got.some((m) => m.type === 'end'));
    const askedBefore = asked;
    await until(() => asked >= askedBefore + 2); // two more measurements went out to `all`, none to `some`
    expect(collectorOf(all)[0]).toEqual({ type: 'collector', t: 5, ms: 20, cpu: 0.5, rssBytes: 1234 });
    expect(collectorOf(some)).toEqual([]);
  });

  it('a client that fell behind gets the latest flame result and the latest measurement when it drains (one does not replace the other)', async () => {
    let n = 0;
    const { server, url } = await serve({ highWaterBytes: 64 * 1024, stuckMs: 20_000, collectorEveryMs: 20, collectorStats: () => ({ t: ++n, ms: 20, cpu: 0.01, rssBytes: 1 }) });
    const c = await connect(url);
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const base = messages.find((m): m is SnapshotMessage => m.type === 'snapshot') as SnapshotMessage;
    const big: SnapshotMessage = { ...base, exits: Array.from({ length: 200 }, (_, i) => ({ pid: 7, tid: 1000 + i, isa: 2, reason: 123, n: 1 })) };
    let seq = 0;
    while (!server.stats().some((s) => s.merged > 0)) {
      for (let i = 0; i < 40; i++) server.publish({ ...big, seq: seq++ });
      await tick(5);
    }
    server.broadcast({ type: 'flame', state: 'failed', code: 'NO_SAMPLES', message: 'none' });
    const nAtFlame = n;
    await until(() => n >= nAtFlame + 2); // measurements taken while it is behind
    socket.resume();
    await until(() => c.got.some((m) => m.type === 'behind') && c.got.some((m) => m.type === 'flame'), 10_000);
    const after = c.got.slice(c.got.findIndex((m) => m.type === 'behind'));
    expect(after.some((m) => m.type === 'flame')).toBe(true);
    const held = after.filter((m) => m.type === 'collector').map((m) => CollectorStatsMessage.parse(m).t);
    expect(held.length).toBeGreaterThan(0);
    expect(held[0]).toBeGreaterThan(nAtFlame); // the latest held, not the first
  });
});

describe('startServer: live servers measure, replay servers say so', () => {
  const quiet = (): undefined => undefined;

  it('live: once the collector is attached, `collector` messages timed as the stream (ms since the hello)', async () => {
    const { server, attachLive } = await startServer({ listen: '0', allowOrigin: [] }, quiet);
    track(server);
    const port = (server as unknown as { http: { address(): { port: number } } }).http.address().port;
    const c = await connect(`ws://127.0.0.1:${port}/stream`);
    expect(c.got[0]).toMatchObject({ type: 'welcome', source: 'live' });
    const agg = new Aggregate();
    // a stream started a minute ago
    agg.apply({ ...hello, startedAt: new Date(Date.now() - 60_000).toISOString() });
    attachLive({ agg } as unknown as Live);
    await until(() => collectorOf(c).length > 0, 10_000);
    const m = collectorOf(c)[0] as CollectorStatsMessage;
    expect(m.t).toBeGreaterThanOrEqual(60_000);
    expect(m.t).toBeLessThan(60 * 60_000);
    expect(m.rssBytes).toBeGreaterThan(1 << 20);
  });

  it('replay: the welcome says `replay`; no `collector` message comes, even with a recording attached', async () => {
    const { server } = await startServer({ listen: '0', allowOrigin: [], replay: true }, quiet);
    track(server);
    expect((server as unknown as { o: StreamServerOptions }).o.collectorStats).toBeUndefined();
    const port = (server as unknown as { http: { address(): { port: number } } }).http.address().port;
    const c = await connect(`ws://127.0.0.1:${port}/stream`);
    expect(c.got[0]).toMatchObject({ type: 'welcome', source: 'replay' });
    for (const m of messages) server.publish(m);
    await until(() => c.got.some((m) => m.type === 'end'));
    expect(collectorOf(c)).toEqual([]);
  });
});
