/**
 * The exporter's HTTP server: /metrics and /healthz only (src/metrics/http-route.ts), nothing
 * else: no page, no WebSocket. Hardened as the StreamServer: loopback unless a token is given,
 * request and header timeouts, plain answers (with nosniff) for every refusal, Node's own error
 * answers replaced, and nothing a client sends can throw out of a handler.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { serveMetricsRoute, type Tokens } from '../metrics/http-route.js';
import type { MetricsService } from '../metrics/service.js';
import { createHardenedHttp, why } from '../server/hardened-http.js';
import { answerAndClose, PLAIN_HEADERS } from '../server/plain-answer.js';
import { parseRequestTarget } from '../server/request-target.js';
import { rateLimitedLog, stderrLine } from '../server/server-log.js';
import { isLoopback } from '../server/server.js';

export interface ExporterServerOptions {
  host: string;
  port: number;
  tokens?: Tokens;
  service: MetricsService;
  onLog?: (line: string) => void;
  /** Requests whose headers are not all in after this long are answered 408. */
  headersTimeoutMs?: number;
  /** Connections at once (Prometheus needs one or two). */
  maxConnections?: number;
}

export class ExporterServer {
  private readonly http: Server;
  private readonly log: (line: string) => void;

  constructor(private readonly o: ExporterServerOptions) {
    if (!isLoopback(o.host) && !o.tokens?.read && !o.tokens?.control) throw new Error('a non-loopback address needs a token');
    this.log = rateLimitedLog(o.onLog ?? stderrLine);
    this.http = createHardenedHttp({
      headersTimeoutMs: o.headersTimeoutMs ?? 10_000,
      log: this.log,
      onRequest: (req, res) => {
        const target = parseRequestTarget(req.url);
        if (serveMetricsRoute(req, res, target, o.service, o.tokens, this.log)) return;
        res.writeHead(404, PLAIN_HEADERS);
        res.end('exitscope exporter: the metrics are at /metrics (health at /healthz)\n');
      },
    });
    this.http.maxConnections = o.maxConnections ?? 32;
    // no WebSocket here
    this.http.on('upgrade', (_req, socket: Duplex) => {
      socket.on('error', () => undefined);
      answerAndClose(socket, 404, 'exitscope exporter: no WebSocket here (exitscope serve has the stream)');
    });
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.o.port, this.o.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.http.on('error', (e) => this.log(`http server: ${why(e)}`));
    return { host: this.o.host, port: (this.http.address() as AddressInfo).port };
  }

  async close(): Promise<void> {
    this.http.closeIdleConnections();
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      // a scrape in flight gets 2 s to finish
      setTimeout(() => this.http.closeAllConnections(), 2000).unref();
    });
  }
}
