/**
 * The live stream: a WebSocket to /stream with the token from the URL fragment (#token=...) or a
 * prompt (asked once, when the server refuses before opening), reconnecting every 2 s. It only
 * hands messages on; the model and the views are elsewhere.
 */
import { Message } from '../../src/protocol/messages.js';
import { CollectorStatsMessage, type ServerSource } from '../../src/server/client-messages.js';
import { safeText } from '../../src/views/safe-text.js';

export interface StreamHandlers {
  /** A (re)connection was accepted: the server's catch-up follows, so the model starts afresh. */
  welcome(rights: 'control' | 'read', source: ServerSource): void;
  message(m: Message): void;
  /** The server's collector's own CPU and memory (a live server, every few seconds). */
  collector(m: CollectorStatsMessage): void;
  flame(m: { state?: unknown; seconds?: unknown; tree?: unknown; samples?: unknown; message?: unknown }): void;
  reject(message: string): void;
  state(text: string, ok: boolean): void;
}

export interface StreamConnection {
  send(m: unknown): void;
}

export function connectStream(h: StreamHandlers): StreamConnection {
  let token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
  let prompted = false;
  let ws: WebSocket | undefined;
  const connect = (): void => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/stream${token ? `?token=${encodeURIComponent(token)}` : ''}`;
    h.state('connecting...', false);
    let opened = false;
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => {
      opened = true;
    };
    sock.onmessage = (ev) => {
      let json: { type?: unknown; [k: string]: unknown };
      try {
        json = JSON.parse(String(ev.data)) as typeof json;
      } catch {
        return;
      }
      if (json.type === 'welcome') {
        const rights = json.rights === 'control' ? 'control' : 'read';
        h.state(`connected (${rights === 'control' ? 'control' : 'read-only'})`, true);
        h.welcome(rights, json.source === 'replay' ? 'replay' : 'live');
        return;
      }
      if (json.type === 'collector') {
        const c = CollectorStatsMessage.safeParse(json);
        if (c.success) h.collector(c.data);
        return;
      }
      if (json.type === 'flame') return h.flame(json as Parameters<StreamHandlers['flame']>[0]);
      if (json.type === 'reject') return h.reject(safeText(String(json.message)));
      const m = Message.safeParse(json);
      if (m.success) h.message(m.data);
    };
    sock.onclose = () => {
      if (!opened && !prompted) {
        // refused before opening: most likely a token is needed (or this one is wrong); ask once
        prompted = true;
        token = window.prompt(token ? 'The server refused this token; the token:' : 'This exitscope server needs a token:') ?? token;
        if (token) return connect();
      }
      h.state('disconnected: reconnecting in 2 s', false);
      setTimeout(connect, 2000);
    };
  };
  connect();
  return { send: (m) => ws?.send(JSON.stringify(m)) };
}
