/**
 * The WebSocket server: the collector's stream to remote viewers (ws 8).
 * - Security: loopback by default; any other address needs a token, checked in
 *   the HTTP upgrade before a socket exists (read-only or control rights);
 *   browsers' Origin checked against an allow-list; small maxPayload; every
 *   inbound message validated; repeated bad messages or a flood close the
 *   connection (1008); dead peers found by ping and terminated; a cap on clients.
 * - Backpressure: a client whose send buffer is above the high-water mark gets
 *   no new frames: snapshots are merged (exactly: they are deltas) and other
 *   messages queued (bounded); when it drains it gets a `behind` notice and the
 *   merged snapshot. One stuck beyond `stuckMs` is terminated. Nobody else waits.
 * - Robustness: nothing a client sends can throw out of a handler (request
 *   targets are parsed without `new URL`); as a last resort every handler and
 *   per-client callback is guarded: the client gets a 400 or is dropped, the
 *   exception goes to a rate-limited log, and the process never dies of one
 *   client. Slow or unfinished requests and messages are bounded in time.
 */
import { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Message } from '../protocol/messages.js';
import { sameSecret, serveMetricsRoute } from '../metrics/http-route.js';
import type { MetricsService } from '../metrics/service.js';
import { ClientMessage, type CollectorStatsMessage, type Rights, type ServerMessage, type ServerSource, TOPICS, type Topic } from './client-messages.js';
import { StreamHub } from './hub.js';
import { SnapshotMerger } from './merge.js';
import { MessageProgress } from './message-progress.js';
import { answerAndClose, PLAIN_HEADERS } from './plain-answer.js';
import { createHardenedHttp, peerOf, why } from './hardened-http.js';
import { parseRequestTarget, type RequestTarget } from './request-target.js';
import { rateLimitedLog, type ServerLog, stderrLine } from './server-log.js';

export interface StreamServerOptions {
  host: string;
  port: number;
  /** Tokens: required (one at least) unless host is loopback. A client with neither gets 401. */
  tokens?: { read?: string; control?: string };
  /** Origins allowed for browsers, besides the server's own. */
  allowOrigins?: string[];
  maxClients?: number;
  maxPayload?: number;
  heartbeatMs?: number;
  highWaterBytes?: number;
  stuckMs?: number;
  maxBadMessages?: number;
  maxMessagesPerSecond?: number;
  /** A client whose message (or frame) is still unfinished after this long is terminated. */
  messageDeadlineMs?: number;
  /** An HTTP request whose headers are not all in after this long is answered 408 and closed. */
  headersTimeoutMs?: number;
  /** Where the server reports a client it dropped for an error (rate-limited); default: stderr. */
  onLog?: (line: string) => void;
  /** A client with control rights asked for a flame snapshot: undefined if started, else why not. */
  onFlameRequest?: (seconds: number) => string | undefined;
  /** The web page served at /: its HTML and the sha256 (base64) of each inline script, for the CSP. */
  page?: () => { html: string; scriptHashes: string[] };
  /** What is served, said in the welcome (the page shows "replay" for the collector's cost); default live. */
  source?: ServerSource;
  /**
   * serve, top --serve: the collector's own CPU and memory, asked every `collectorEveryMs` and sent
   * to clients subscribed to `collector` (the latest also to each new client); undefined: nothing yet.
   */
  collectorStats?: () => Omit<CollectorStatsMessage, 'type'> | undefined;
  collectorEveryMs?: number;
  /** GET /metrics and /healthz (src/metrics): fed every published message; same tokens (read is enough, as a bearer). */
  metrics?: MetricsService;
}

export const DEFAULTS = { maxClients: 64, maxPayload: 4096, heartbeatMs: 30_000, highWaterBytes: 1 << 20, stuckMs: 30_000, maxBadMessages: 5, maxMessagesPerSecond: 20, messageDeadlineMs: 10_000, headersTimeoutMs: 10_000 } as const;
const QUEUE_MAX = 256;

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

interface Client {
  ws: WebSocket;
  rights: Rights;
  topics: Set<Topic>;
  alive: boolean;
  merger: SnapshotMerger;
  queue: Message[];
  dropped: number;
  behindSince: number | undefined;
  bad: number;
  windowStart: number;
  windowCount: number;
  /** The latest broadcast of each type (flame, collector) held while the client is behind. */
  pendingBroadcast: Map<string, unknown>;
  progress: MessageProgress;
  peer: string;
}


export class StreamServer {
  private readonly hub = new StreamHub();
  private readonly clients = new Set<Client>();
  private readonly wss: WebSocketServer;
  private readonly http: Server;
  private readonly o: Required<Omit<StreamServerOptions, 'tokens' | 'allowOrigins' | 'onFlameRequest' | 'page' | 'onLog' | 'source' | 'collectorStats' | 'collectorEveryMs' | 'metrics'>> & StreamServerOptions;
  private readonly log: ServerLog;
  private timers: NodeJS.Timeout[] = [];
  private closing = false;
  private origins = new Set<string>();
  /** The latest `collector` message, for clients that connect before the next one. */
  private lastCollector: CollectorStatsMessage | undefined;

  constructor(options: StreamServerOptions) {
    this.o = { ...DEFAULTS, ...options };
    if (!isLoopback(options.host) && !options.tokens?.read && !options.tokens?.control) throw new Error('a non-loopback address needs a token');
    this.log = rateLimitedLog(options.onLog ?? stderrLine);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.o.maxPayload, perMessageDeflate: false });
    // ws's own refusals (bad method, key, version, subprotocol) answered like ours: plain, nosniff
    this.wss.on('wsClientError', (e: Error, socket: Duplex) => answerAndClose(socket, e.message === 'Invalid HTTP method' ? 405 : 400, e.message, e.message.includes('Version') ? { 'sec-websocket-version': '13, 8' } : {}));
    this.wss.on('error', (e) => this.log(`websocket server: ${why(e)}`));
    // checks the Host header itself (request()): Node's own 400 for it has no content-type
    this.http = createHardenedHttp({ headersTimeoutMs: this.o.headersTimeoutMs, onRequest: (req, res) => this.request(req, res), log: this.log });
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // first: an upgraded socket has no error listener left, and an ECONNRESET would be uncaught
      socket.on('error', () => undefined);
      try {
        this.upgrade(req, socket, head);
      } catch (e) {
        this.log(`upgrade from ${peerOf(req.socket)} failed: ${why(e)}`);
        answerAndClose(socket, 400);
      }
    });
  }

  private request(req: IncomingMessage, res: ServerResponse): void {
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      res.writeHead(400, { ...PLAIN_HEADERS, connection: 'close' });
      res.end('Bad Request: no Host header\n');
      return;
    }
    const target = parseRequestTarget(req.url);
    const { path } = target;
    if (this.o.metrics && serveMetricsRoute(req, res, target, this.o.metrics, this.o.tokens, this.log)) return;
    if (path === '/' && this.o.page) {
      const page = this.o.page();
      const scripts = page.scriptHashes.map((h) => `'sha256-${h}'`).join(' ');
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        // only our own script runs; it talks only to us; nobody frames the page
        'content-security-policy': `default-src 'none'; script-src ${scripts}; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      res.end(page.html);
      return;
    }
    res.writeHead(404, PLAIN_HEADERS);
    res.end('exitscope: the stream is a WebSocket at /stream\n');
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.o.port, this.o.host, () => resolve());
    });
    // e.g. EMFILE when accepting: without a listener, an 'error' event would end the process
    this.http.on('error', (e) => this.log(`http server: ${why(e)}`));
    const port = (this.http.address() as AddressInfo).port;
    for (const h of [this.o.host, 'localhost', '127.0.0.1', '[::1]']) this.origins.add(`http://${h}:${port}`);
    for (const o of this.o.allowOrigins ?? []) this.origins.add(o.replace(/\/$/, ''));
    this.timers.push(setInterval(() => this.heartbeat(), this.o.heartbeatMs));
    this.timers.push(setInterval(() => this.sweep(), 100));
    if (this.o.collectorStats) this.timers.push(setInterval(() => this.publishCollector(), this.o.collectorEveryMs ?? 2000));
    for (const t of this.timers) t.unref();
    return { host: this.o.host, port };
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Per client: bytes waiting in its socket, snapshots merged and messages queued while it is behind. */
  stats(): { buffered: number; merged: number; queued: number }[] {
    return [...this.clients].map((c) => ({ buffered: c.ws.bufferedAmount, merged: c.merger.count, queued: c.queue.length }));
  }

  /** One message of the stream to every client (and to the catch-up state for later ones). */
  publish(m: Message): void {
    this.hub.apply(m);
    this.o.metrics?.apply(m);
    for (const c of this.clients) this.guarded(c, 'delivery', () => this.deliver(c, m));
  }

  /** A server message (e.g. a flame result) to every client subscribed to it. */
  broadcast(m: ServerMessage | { type: 'flame'; [k: string]: unknown }, topic: Topic = 'flame'): void {
    for (const c of this.clients) if (c.topics.has(topic)) this.guarded(c, 'broadcast', () => this.broadcastTo(c, m));
  }

  /** A client that is behind keeps only the latest of each type (a flame tree can be megabytes). */
  private broadcastTo(c: Client, m: { type: string }): void {
    if (this.behind(c) || c.behindSince !== undefined) {
      c.behindSince ??= Date.now();
      c.pendingBroadcast.set(m.type, m);
    } else this.sendRaw(c, m);
  }

  /** The collector's cost now, to every client subscribed to `collector` (called on a timer). */
  private publishCollector(): void {
    let stats: Omit<CollectorStatsMessage, 'type'> | undefined;
    try {
      stats = this.o.collectorStats?.();
    } catch (e) {
      return this.log(`collector stats: ${why(e)}`); // a timer's exception would end the process
    }
    if (!stats) return;
    this.lastCollector = { ...stats, type: 'collector' };
    this.broadcast(this.lastCollector, 'collector');
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    for (const c of this.clients) {
      this.guarded(c, 'final drain', () => {
        this.drain(c, true);
        c.ws.close(1001, 'server stopping');
      });
    }
    await new Promise<void>((resolve) => {
      const done = setTimeout(() => {
        clearInterval(check);
        for (const c of this.clients) c.ws.terminate();
        resolve();
      }, 2000);
      done.unref();
      const check = setInterval(() => {
        if (this.clients.size === 0) {
          clearInterval(check);
          clearTimeout(done);
          resolve();
        }
      }, 20);
    });
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /**
   * Browsers: the allow-list, or our own page (Origin = the Host the browser connected to, which
   * differs from our address behind a port forward or proxy) when that host is an IP address or
   * localhost: a DNS-rebinding page uses a domain name, and is refused.
   */
  private originAllowed(origin: string, host: string | undefined): boolean {
    if (this.origins.has(origin)) return true;
    if (!host) return false;
    let o: URL;
    try {
      o = new URL(origin);
    } catch {
      return false;
    }
    const hostname = o.hostname.replace(/^\[(.*)\]$/, '$1');
    const literal = hostname === 'localhost' || /^\d+\.\d+\.\d+\.\d+$/.test(hostname) || hostname.includes(':');
    return literal && (o.protocol === 'http:' || o.protocol === 'https:') && o.host === host;
  }

  private rightsOf(req: IncomingMessage, target: RequestTarget): Rights | undefined {
    const t = this.o.tokens;
    if (!t?.read && !t?.control) return 'control'; // loopback without tokens: whoever can connect is local
    const auth = req.headers.authorization;
    const given = auth?.startsWith('Bearer ') ? auth.slice(7) : (target.query.get('token') ?? '');
    if (t.control && sameSecret(given, t.control)) return 'control';
    if (t.read && sameSecret(given, t.read)) return 'read';
    return undefined;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const target = parseRequestTarget(req.url);
    if (target.path !== '/stream') return answerAndClose(socket, 404);
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, req.headers.host)) return answerAndClose(socket, 403);
    const rights = this.rightsOf(req, target);
    if (!rights) return answerAndClose(socket, 401);
    if (this.closing || this.clients.size >= this.o.maxClients) return answerAndClose(socket, 503);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, rights, socket as Socket));
  }

  private accept(ws: WebSocket, rights: Rights, socket: Socket): void {
    const c: Client = { ws, rights, topics: new Set(TOPICS), alive: true, merger: new SnapshotMerger(), queue: [], dropped: 0, behindSince: undefined, bad: 0, windowStart: Date.now(), windowCount: 0, pendingBroadcast: new Map(), progress: new MessageProgress(), peer: peerOf(socket) };
    this.clients.add(c);
    ws.on('pong', () => {
      c.alive = true;
    });
    ws.on('error', () => undefined); // e.g. maxPayload exceeded: ws closes with 1009 itself
    ws.on('close', () => this.clients.delete(c));
    ws.on('message', (data, isBinary) => this.guarded(c, 'message', () => this.onMessage(c, data as Buffer, isBinary)));
    // ws registered its own listener first (in handleUpgrade): this one sees the same bytes after it
    socket.on('data', (chunk: Buffer) => c.progress.feed(chunk, Date.now()));
    this.guarded(c, 'catch-up', () => {
      this.sendRaw(c, { type: 'welcome', v: 1, rights, topics: [...c.topics], source: this.o.source ?? 'live' });
      for (const m of this.hub.catchUp()) this.deliver(c, m);
      if (this.lastCollector) this.broadcastTo(c, this.lastCollector);
    });
  }

  /** Runs one client's callback; if it throws, that client is dropped and the others go on. */
  private guarded(c: Client, what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.log(`client ${c.peer}: ${what} failed, connection dropped: ${why(e)}`);
      this.clients.delete(c);
      c.ws.terminate();
    }
  }

  private reject(c: Client, code: Extract<ServerMessage, { type: 'reject' }>['code'], message: string, counts = true): void {
    this.sendRaw(c, { type: 'reject', code, message });
    if (counts && ++c.bad >= this.o.maxBadMessages) c.ws.close(1008, 'too many bad messages');
  }

  private onMessage(c: Client, data: Buffer, isBinary: boolean): void {
    if (c.ws.readyState !== WebSocket.OPEN) return; // closing: nothing more is processed
    const now = Date.now();
    if (now - c.windowStart >= 1000) {
      c.windowStart = now;
      c.windowCount = 0;
    }
    if (++c.windowCount > this.o.maxMessagesPerSecond) {
      c.ws.close(1008, 'too many messages');
      // one that keeps sending is not waited for (ws would wait 30 s for its close frame)
      setTimeout(() => c.ws.terminate(), 1000).unref();
      return;
    }
    if (isBinary) return this.reject(c, 'BAD_MESSAGE', 'binary frames are not accepted');
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch {
      return this.reject(c, 'BAD_JSON', 'not JSON');
    }
    const parsed = ClientMessage.safeParse(json);
    if (!parsed.success) return this.reject(c, 'BAD_MESSAGE', `not a valid message: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const m = parsed.data;
    switch (m.type) {
      case 'ping':
        this.sendRaw(c, { type: 'pong' });
        return;
      case 'subscribe':
        c.topics = new Set(m.topics);
        return;
      case 'flame': {
        if (c.rights !== 'control') return this.reject(c, 'FORBIDDEN', 'a flame snapshot needs a token with control rights', false);
        const why = this.o.onFlameRequest ? this.o.onFlameRequest(m.seconds ?? 5) : 'flame snapshots are not available from this server';
        if (why) this.reject(c, why.includes('being taken') ? 'BUSY' : 'UNAVAILABLE', why, false);
        return;
      }
    }
  }

  private behind(c: Client): boolean {
    return c.ws.bufferedAmount > this.o.highWaterBytes;
  }

  private deliver(c: Client, m: Message): void {
    if (m.type !== 'hello' && !c.topics.has(m.type as Topic)) return;
    if (this.behind(c) || c.merger.count > 0 || c.queue.length > 0) {
      c.behindSince ??= Date.now();
      if (m.type === 'snapshot') c.merger.add(m);
      else {
        c.queue.push(m);
        if (c.queue.length > QUEUE_MAX) {
          // the detail stream goes first: VM names and notices are not sent again
          const i = c.queue.findIndex((q) => q.type === 'exit');
          c.queue.splice(i >= 0 ? i : 0, 1);
          c.dropped++;
        }
      }
      this.drain(c);
      return;
    }
    this.sendRaw(c, m);
  }

  /** Sends what a client missed once its buffer has drained; terminates one stuck too long. */
  private drain(c: Client, force = false): void {
    if (c.behindSince === undefined) return;
    if (!force && c.ws.bufferedAmount > this.o.highWaterBytes / 2) {
      if (Date.now() - c.behindSince > this.o.stuckMs) {
        c.ws.terminate();
        this.clients.delete(c);
      }
      return;
    }
    const merged = c.merger.count;
    this.sendRaw(c, { type: 'behind', merged, dropped: c.dropped });
    for (const m of c.queue) if (m.type !== 'end') this.sendRaw(c, m);
    const snap = c.merger.take();
    if (snap) this.sendRaw(c, snap);
    const end = c.queue.find((m) => m.type === 'end');
    if (end) this.sendRaw(c, end);
    for (const m of c.pendingBroadcast.values()) this.sendRaw(c, m);
    c.pendingBroadcast.clear();
    c.queue = [];
    c.dropped = 0;
    c.behindSince = undefined;
  }

  /** Every 100 ms: clients that drained get what they missed; unfinished messages past the deadline end. */
  private sweep(): void {
    const now = Date.now();
    for (const c of this.clients) {
      this.guarded(c, 'drain', () => {
        const since = c.progress.unfinishedSince;
        if (since !== undefined && now - since > this.o.messageDeadlineMs) {
          this.log(`client ${c.peer}: a message unfinished after ${this.o.messageDeadlineMs} ms, connection dropped`);
          this.clients.delete(c);
          c.ws.terminate();
          return;
        }
        this.drain(c);
      });
    }
  }

  private heartbeat(): void {
    for (const c of this.clients) {
      this.guarded(c, 'heartbeat', () => {
        if (!c.alive) {
          c.ws.terminate();
          this.clients.delete(c);
          return;
        }
        c.alive = false;
        c.ws.ping();
      });
    }
  }

  private sendRaw(c: Client, m: unknown): void {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    c.ws.send(JSON.stringify(m));
  }
}
