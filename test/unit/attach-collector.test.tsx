/**
 * attach shows the remote collector's own CPU and memory in its header, from the server's
 * `collector` messages, through the command's own handler (ui/dashboard.tsx applyServerMessage):
 * a real server, a real RemoteStream, the Ink App. A malformed one is ignored.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { RemoteStream } from '../../src/remote/remote-stream.js';
import { StreamServer } from '../../src/server/server.js';
import { App } from '../../ui/App.js';
import { applyServerMessage } from '../../ui/dashboard.js';
import { DashboardStore } from '../../ui/store.js';
import { themeFor } from '../../ui/theme.js';
import { frameWhere } from './support/ink-wait.js';

const messages: Message[] = parseRecording(readFileSync(join(import.meta.dirname, '../fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages;

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('attach: the remote collector', () => {
  it("the header shows the figures the server sent, and the next ones; a malformed message changes nothing", async () => {
    let stats = { t: 1000, ms: 2000, cpu: 0.031, rssBytes: 62 * 2 ** 20 };
    const server = new StreamServer({ host: '127.0.0.1', port: 0, collectorEveryMs: 30, collectorStats: () => stats });
    const { port } = await server.listen();
    cleanup.push(() => server.close());
    for (const m of messages) server.publish(m);
    const store = new DashboardStore('live', 1000);
    const remote = new RemoteStream({
      url: new URL(`ws://127.0.0.1:${port}/stream`),
      onState: (r) => {
        if (r.state === 'connected') store.restart();
        store.setRemote(r);
      },
      onMessage: (m) => store.apply(m),
      onServerMessage: (m) => applyServerMessage(store, m),
    });
    cleanup.push(() => remote.stop());
    const { lastFrame, unmount } = render(<App store={store} theme={themeFor({ NO_COLOR: '1' })} size={{ columns: 160, rows: 40 }} initialUi={{ windowSeconds: 60 }} />);
    cleanup.push(() => unmount());
    await frameWhere(lastFrame, (f) => f.includes('collector -'), 'no figures before the connection');
    await remote.start();
    await frameWhere(lastFrame, (f) => f.includes('collector 3.1% CPU 62 MiB'), "the server's figures");
    stats = { t: 3000, ms: 2000, cpu: 0.5, rssBytes: 80 * 2 ** 20 };
    await frameWhere(lastFrame, (f) => f.includes('collector 50.0% CPU 80 MiB'), 'the next figures');
    applyServerMessage(store, { type: 'collector', t: 1, ms: 1, cpu: -1, rssBytes: 'lots' });
    expect(store.getSnapshot().self).toEqual({ cpuPercent: 50, rssMiB: 80 });
  });
});
