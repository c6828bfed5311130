/**
 * attach: the dashboard on a remote stream, with a real server and real
 * sockets. It shows the connection, the same totals as the source, starts over
 * from the server's catch-up after a reconnection, and asks for flame snapshots
 * only with control rights; a wrong token fails before anything is drawn.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { summarize } from '../../src/flame/summary.js';
import { Aggregate } from '../../src/model/aggregate.js';
import type { Message } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { RemoteStream } from '../../src/remote/remote-stream.js';
import { StreamServer } from '../../src/server/server.js';
import { UserError } from '../../src/errors.js';
import { App } from '../../ui/App.js';
import { DashboardStore } from '../../ui/store.js';
import { themeFor } from '../../ui/theme.js';
import { profileOf } from './support/flame-fixtures.js';
import { frameWhere } from './support/ink-wait.js';

const messages: Message[] = parseRecording(readFileSync(join(import.meta.dirname, '../fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages;
const PLAIN = themeFor({ NO_COLOR: '1' });
const tick = (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await tick(20);
  }
}

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function serverAt(port: number, o: Partial<ConstructorParameters<typeof StreamServer>[0]> = {}): Promise<{ server: StreamServer; port: number }> {
  const server = new StreamServer({ host: '127.0.0.1', port, ...o });
  const r = await server.listen();
  cleanup.push(() => server.close());
  return { server, port: r.port };
}

function wire(store: DashboardStore, url: URL, token?: string): RemoteStream {
  const remote = new RemoteStream({
    url,
    ...(token ? { token } : {}),
    minDelayMs: 50,
    maxDelayMs: 200,
    onState: (r) => {
      if (r.state === 'connected') store.restart();
      store.setRemote(r);
    },
    onMessage: (m) => store.apply(m),
    onServerMessage: (m) => {
      if (m.type === 'flame' && m.state === 'done') store.setFlame({ state: 'done', summary: m.summary as ReturnType<typeof summarize>, files: [] });
    },
  });
  cleanup.push(() => remote.stop());
  return remote;
}

describe('attach', () => {
  it('shows the connection and the same totals as the source; after the server restarts it reconnects and starts over from the catch-up', async () => {
    const { server, port } = await serverAt(0);
    for (const m of messages) server.publish(m);
    const store = new DashboardStore('live', 1000);
    const url = new URL(`ws://127.0.0.1:${port}/stream`);
    const remote = wire(store, url);
    await remote.start();
    const want = new Aggregate();
    for (const m of messages) want.apply(m);
    await until(() => store.model.ended !== undefined);
    expect([...store.model.total.exits].sort()).toEqual([...want.total.exits].sort());
    const { lastFrame, unmount } = render(<App store={store} theme={PLAIN} size={{ columns: 100, rows: 40 }} initialUi={{ windowSeconds: 60 }} />);
    cleanup.push(() => unmount());
    await frameWhere(lastFrame, (f) => f.includes(`⇄ connected ws://127.0.0.1:${port}/stream (control)`), 'the connection line');

    await server.close();
    await until(() => store.getSnapshot().remote?.state === 'reconnecting');
    await frameWhere(lastFrame, (f) => /⇄ disconnected, reconnecting in [\d.]+ s: /.test(f), 'the reconnecting line');
    // a new server on the same port with only the first half: the dashboard shows that, not a sum of both
    const { server: again } = await serverAt(port);
    const firstSnapshot = messages.findIndex((m) => m.type === 'snapshot');
    for (const m of messages.slice(0, firstSnapshot + 1)) again.publish(m);
    const half = new Aggregate();
    for (const m of messages.slice(0, firstSnapshot + 1)) half.apply(m);
    const exitsOf = (a: Aggregate): string => JSON.stringify([...a.total.exits].sort());
    // the catch-up arrives in a few frames: wait for the model to equal the half (a sum of both never would)
    await until(() => store.getSnapshot().remote?.state === 'connected' && exitsOf(store.model) === exitsOf(half));
    expect(exitsOf(store.model)).toBe(exitsOf(half));
  });

  it('a wrong token fails at once with REMOTE_UNAUTHORIZED', async () => {
    const { port } = await serverAt(0, { tokens: { control: 'right' } });
    const store = new DashboardStore('live', 1000);
    const e = await wire(store, new URL(`ws://127.0.0.1:${port}/stream`), 'wrong').start().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe('REMOTE_UNAUTHORIZED');
  });

  it('with control rights a flame request reaches the server and its result the panel', async () => {
    let asked = 0;
    const { server, port } = await serverAt(0, {
      tokens: { control: 'c', read: 'r' },
      onFlameRequest: () => {
        asked++;
        return undefined;
      },
    });
    for (const m of messages) server.publish(m);
    const store = new DashboardStore('live', 1000);
    const remote = wire(store, new URL(`ws://127.0.0.1:${port}/stream`), 'c');
    await remote.start();
    expect(remote.send({ type: 'flame', seconds: 2 })).toBe(true);
    await until(() => asked === 1);
    const summary = summarize(profileOf('io-npt-on'), 10);
    server.broadcast({ type: 'flame', state: 'done', summary });
    await until(() => store.flameState.state === 'done');
    const { lastFrame, unmount } = render(<App store={store} theme={PLAIN} size={{ columns: 100, rows: 40 }} />);
    cleanup.push(() => unmount());
    await frameWhere(lastFrame, (f) => f.includes(summary.topTotal[0]?.name as string), 'the top frame');
  });

  it('a silent connection (a half-open peer) is given up and retried; stop() during the first attempt settles it', async () => {
    const { port } = await serverAt(0, { heartbeatMs: 60_000 });
    const states: string[] = [];
    const remote = new RemoteStream({ url: new URL(`ws://127.0.0.1:${port}/stream`), silenceMs: 300, minDelayMs: 50, maxDelayMs: 100, onState: (r) => states.push(r.state), onMessage: () => undefined });
    cleanup.push(() => remote.stop());
    await remote.start();
    await until(() => states.includes('reconnecting'), 3000);
    const never = new RemoteStream({ url: new URL('ws://10.255.255.1:9/stream'), onState: () => undefined, onMessage: () => undefined });
    const started = never.start();
    never.stop();
    await expect(started).rejects.toThrow();
  });
});

