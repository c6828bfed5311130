/**
 * A client of `exitscope serve`: connects (token as a Bearer header), hands
 * every stream message on, reports its connection state, and reconnects with
 * backoff after a drop. Each connection starts with the server's catch-up (the
 * hello, VMs and the totals so far), so a consumer starts from a fresh model on
 * every `connected`. Server messages (welcome, flame, reject, behind) are passed
 * on separately.
 */
import { WebSocket } from 'ws';
import { UserError } from '../errors.js';
import { type Message, Message as MessageSchema } from '../protocol/messages.js';
import type { Rights } from '../server/client-messages.js';

export type RemoteState =
  | { state: 'connecting'; url: string }
  | { state: 'connected'; url: string; rights: Rights }
  | { state: 'reconnecting'; url: string; inSeconds: number; why: string };

export interface RemoteStreamOptions {
  url: URL;
  token?: string;
  onState: (s: RemoteState) => void;
  onMessage: (m: Message) => void;
  onServerMessage?: (m: { type: string; [k: string]: unknown }) => void;
  /** Backoff: first delay and cap, in ms. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Nothing heard (no message, no ping) for this long: the connection is dead (a half-open TCP). */
  silenceMs?: number;
}

/** HTTP refusals of the upgrade, as user errors (fatal: reconnecting would not help). */
export function refusalError(url: URL, status: number): UserError {
  if (status === 401) return new UserError('REMOTE_UNAUTHORIZED', `${url.host} refused the connection: a token is needed, or this one is wrong`, 'pass the token the server printed: --token T');
  if (status === 403) return new UserError('REMOTE_FORBIDDEN', `${url.host} refused this client's Origin`, 'connect without an Origin header, or add it to the server with --allow-origin');
  if (status === 503) return new UserError('REMOTE_FULL', `${url.host} has as many clients as it allows`, "try again later, or raise the server's --max-clients");
  return new UserError('REMOTE_REFUSED', `${url.host} answered HTTP ${status} instead of a WebSocket`, 'check the address: exitscope serves the stream at ws://HOST:PORT/stream');
}

export class RemoteStream {
  private ws: WebSocket | undefined;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private everConnected = false;
  private connectedAt = 0;
  private silence: NodeJS.Timeout | undefined;

  constructor(private readonly o: RemoteStreamOptions) {}

  /** Resolves on the first connection; rejects if the first attempt fails (a wrong address or token). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => this.connect(resolve, reject));
  }

  send(m: unknown): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(m));
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.silence) clearTimeout(this.silence);
    this.ws?.close(1000);
    this.pendingReject?.(new Error('stopped'));
    this.pendingReject = undefined;
  }

  private pendingReject: ((e: Error) => void) | undefined;

  private connect(resolve?: () => void, reject?: (e: Error) => void): void {
    if (this.stopped) return;
    this.pendingReject = reject;
    const url = this.o.url.href;
    this.o.onState({ state: 'connecting', url });
    const ws = new WebSocket(this.o.url, { headers: this.o.token ? { authorization: `Bearer ${this.o.token}` } : {}, maxPayload: 64 << 20, handshakeTimeout: 10_000 });
    this.ws = ws;
    let failed: Error | undefined;
    ws.on('unexpected-response', (_req, res) => {
      failed = refusalError(this.o.url, res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', (e) => {
      failed ??= new UserError('REMOTE_UNREACHABLE', `cannot connect to ${this.o.url.host}: ${e.message}`, 'check that `exitscope serve` runs there and the port is reachable (a lab: --forward)');
    });
    // the server pings every 30 s: silence well beyond that means the peer is gone
    const heard = (): void => {
      if (this.silence) clearTimeout(this.silence);
      this.silence = setTimeout(() => ws.terminate(), this.o.silenceMs ?? 75_000);
      this.silence.unref?.();
    };
    ws.on('ping', heard);
    ws.on('open', heard);
    ws.on('message', (data) => {
      heard();
      let json: { type?: string; [k: string]: unknown };
      try {
        json = JSON.parse(String(data)) as typeof json;
      } catch {
        return;
      }
      if (json.type === 'welcome') {
        this.everConnected = true;
        this.connectedAt = Date.now();
        this.pendingReject = undefined;
        this.o.onState({ state: 'connected', url, rights: json.rights === 'control' ? 'control' : 'read' });
        resolve?.();
        resolve = undefined;
        reject = undefined;
        return;
      }
      const m = MessageSchema.safeParse(json);
      if (m.success) this.o.onMessage(m.data);
      else if (typeof json.type === 'string') this.o.onServerMessage?.(json as { type: string });
    });
    ws.on('close', (code, reason) => {
      if (this.silence) clearTimeout(this.silence);
      if (this.stopped) return;
      // backoff starts over only after a connection that lasted (not one closed straight away)
      if (this.connectedAt && Date.now() - this.connectedAt > 10_000) this.attempt = 0;
      this.connectedAt = 0;
      if (!this.everConnected && reject) {
        reject(failed ?? new UserError('REMOTE_UNREACHABLE', `${this.o.url.host} closed the connection (${code})`, 'check the address'));
        return;
      }
      // a refusal after a drop (e.g. the token changed) keeps retrying, slowly: the state says why
      const delay = Math.min(this.o.maxDelayMs ?? 10_000, (this.o.minDelayMs ?? 500) * 2 ** this.attempt++);
      this.o.onState({ state: 'reconnecting', url, inSeconds: delay / 1000, why: failed?.message ?? `connection closed (${code}${reason.length ? ` ${reason}` : ''})` });
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }
}
