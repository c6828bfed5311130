/**
 * `exitscope serve [ADDR:]PORT`: the collector's stream to WebSocket clients,
 * headless (`top --serve` does the same with the dashboard). See docs/protocol.md.
 */
import type { ServeOptions } from '../server/start.js';
import { type LiveOptions, startLive, waitForEnd } from './live.js';

export async function serveCommand(o: LiveOptions & ServeOptions & { duration?: number }): Promise<number> {
  const live = await startLive({ ...o, serve: o });
  await waitForEnd(live, o.duration);
  await live.stop(); // the final snapshot and the end reach the clients, then the server closes
  return live.agg.errors.length ? 1 : 0;
}
