/**
 * Starts the WebSocket server for `serve` and `top --serve`: address and
 * tokens (generated for a non-loopback address), flame requests from
 * control clients, whose results go to every client subscribed to `flame`, and
 * (live only) the collector's own CPU and memory every few seconds (`collector`).
 */
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors.js';
import type { Live } from '../commands/live.js';
import { selfUsageMeter } from '../collector/self-usage.js';
import { captureFlame, captureTarget } from '../flame/capture.js';
import { summarize } from '../flame/summary.js';
import { buildTree } from '../flame/tree.js';
import { MetricsService } from '../metrics/service.js';
import type { MetricsOptions } from '../metrics/model.js';
import { listenOrExplain, parseListen } from './listen-spec.js';
import { livePage } from './live-page.js';
import { isLoopback, StreamServer } from './server.js';

export interface ServeOptions {
  listen: string;
  token?: string;
  readToken?: string;
  allowOrigin: string[];
  maxClients?: number;
  /** Why flame snapshots cannot be taken here (serve --replay: there is no live trace to sample). */
  flameUnavailable?: string;
  /** serve --replay: a recording is served, nothing is collected (no `collector` messages; the welcome says so). */
  replay?: boolean;
  /** /metrics (docs/metrics.md): --metrics-max-vms, --metrics-gone-grace, --metrics-vcpu. */
  metrics?: Partial<MetricsOptions>;
}

/** How often a live server sends the collector's own CPU and memory. */
export const COLLECTOR_STATS_MS = 2000;

/** Starts the server (before the collector, so that the hello reaches it); says where and with which token. */
export async function startServer(o: ServeOptions, say: (line: string) => void): Promise<{ server: StreamServer; attachLive: (live: Live) => void }> {
  let spec: { host: string; port: number };
  try {
    spec = parseListen(o.listen);
  } catch (e) {
    throw new UserError('BAD_LISTEN', (e as Error).message, 'give a port (loopback) or ADDR:PORT, e.g. --serve 8080 or serve 0.0.0.0:8080');
  }
  let control = o.token;
  if (!isLoopback(spec.host) && !control && !o.readToken) control = randomBytes(18).toString('base64url');
  let live: Live | undefined;
  let flameRunning = false;
  const measure = selfUsageMeter();
  const metrics = new MetricsService(o.metrics ?? {});
  const server = new StreamServer({
    metrics,
    host: spec.host,
    port: spec.port,
    ...(control || o.readToken ? { tokens: { ...(control ? { control } : {}), ...(o.readToken ? { read: o.readToken } : {}) } } : {}),
    allowOrigins: o.allowOrigin,
    page: livePage,
    source: o.replay ? 'replay' : 'live',
    // the cost of this process (as the terminal header), timed as the stream (ms since the hello's startedAt)
    ...(o.replay
      ? {}
      : {
          collectorEveryMs: COLLECTOR_STATS_MS,
          collectorStats: () => {
            const started = live?.agg.hello?.startedAt;
            if (started === undefined) return undefined;
            return { t: Date.now() - Date.parse(started), ...measure() };
          },
        }),
    ...(o.maxClients ? { maxClients: o.maxClients } : {}),
    // clients dropped for an error: on stderr with the other serve notices (rate-limited by the server)
    onLog: (line) => say(`exitscope: server: ${line}`),
    onFlameRequest: (seconds) => {
      if (o.flameUnavailable) return o.flameUnavailable;
      if (!live) return 'the collector is not running yet';
      if (flameRunning) return 'a flame snapshot is being taken';
      flameRunning = true;
      const l = live;
      void (async () => {
        server.broadcast({ type: 'flame', state: 'sampling', seconds });
        try {
          const c = await captureFlame({ seconds, hz: 99, ...captureTarget(l.caps, l.pids, undefined, l.cgroup), userStacks: true });
          if (!c || c.profile.samples === 0) server.broadcast({ type: 'flame', state: 'failed', code: 'NO_SAMPLES', message: `no vCPU thread was on a CPU during the ${seconds} s capture` });
          else server.broadcast({ type: 'flame', state: 'done', meta: c.profile.meta, samples: c.profile.samples, summary: summarize(c.profile, 15), tree: buildTree(c.profile) });
        } catch (e) {
          server.broadcast({ type: 'flame', state: 'failed', code: (e as UserError).code ?? 'FLAME_FAILED', message: (e as Error).message.split('\n')[0] });
        } finally {
          flameRunning = false;
        }
      })();
      return undefined;
    },
  });
  const port = await listenOrExplain(() => server.listen(), spec);
  const where = `ws://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${port}/stream`;
  say(`exitscope: serving the stream at ${where}${control ? ` (control token: ${control})` : ''}${o.readToken ? ' (read-only token given)' : ''}`);
  if (control && !o.token) say('exitscope: the token was generated because the address is not loopback; clients pass it as ?token=... or Authorization: Bearer ...');
  say(`exitscope: Prometheus metrics at ${where.replace(/^ws:/, 'http:').replace(/\/stream$/, '/metrics')}${control || o.readToken ? ' (Authorization: Bearer with either token)' : ''}`);
  return { server, attachLive: (l) => (live = l) };
}

