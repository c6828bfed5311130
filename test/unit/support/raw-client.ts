/**
 * Raw TCP clients for the server's hostile-client and fuzz tests: bytes on a
 * socket, no HTTP or WebSocket library in between, so that requests and frames
 * can be as malformed as an attacker makes them.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface RawExchange {
  /** Everything the server sent before it closed (or before we gave up). */
  bytes: Buffer;
  /** The server closed the connection (rather than the client giving up after `waitMs`). */
  closedByServer: boolean;
}

export interface ExchangeOptions {
  /** Half-close after the last chunk (the server then sees the end of the request). */
  end?: boolean;
  /** Time between writes, so that later chunks arrive as separate reads. */
  gapMs?: number;
  /**
   * An answer is certain (a test asserts on it): past `waitMs`, keep waiting until its head (status
   * line and headers) is complete or the server closes. The bound, HEAD_WAIT_MS, only matters when
   * the server never answers; without this, a busy machine could make a late answer look missing.
   */
  awaitHead?: boolean;
}

/** How long `awaitHead` waits at most for an answer's head (a generous bound, not a timing claim). */
export const HEAD_WAIT_MS = 10_000;

const headComplete = (got: Buffer[]): boolean => Buffer.concat(got).includes('\r\n\r\n');

/**
 * Sends `chunks` (one write each) and collects the answer until the server closes or
 * `waitMs` passes (see `awaitHead`), then destroys the socket either way. Never rejects: a reset is a close.
 */
export function exchange(port: number, chunks: (string | Buffer)[], waitMs = 1000, o: ExchangeOptions = {}): Promise<RawExchange> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    let done = false;
    const finish = (closedByServer: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ bytes: Buffer.concat(got), closedByServer });
    };
    let waitingForHead = false;
    let timer = setTimeout(() => {
      if (!o.awaitHead || headComplete(got)) return finish(false);
      waitingForHead = true;
      timer = setTimeout(() => finish(false), Math.max(0, HEAD_WAIT_MS - waitMs));
    }, waitMs);
    socket.on('data', (d) => {
      got.push(d);
      if (waitingForHead && headComplete(got)) finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('end', () => finish(true));
    const write = (i: number): void => {
      if (socket.destroyed || done) return;
      if (i === chunks.length) {
        if (o.end) socket.end();
        return;
      }
      socket.write(chunks[i] as string | Buffer);
      if (o.gapMs) setTimeout(() => write(i + 1), o.gapMs);
      else write(i + 1);
    };
    socket.on('connect', () => write(0));
  });
}

export function statusOf(bytes: Buffer): number | undefined {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(bytes.toString('latin1'));
  return m ? Number(m[1]) : undefined;
}

export function headersOf(bytes: Buffer): Record<string, string> {
  const text = bytes.toString('latin1');
  const head = text.slice(0, text.indexOf('\r\n\r\n') >= 0 ? text.indexOf('\r\n\r\n') : text.length);
  const out: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

export function upgradeRequest(path: string, headers: Record<string, string> = {}): string {
  const all = { host: '127.0.0.1', upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': randomBytes(16).toString('base64'), 'sec-websocket-version': '13', ...headers };
  return `GET ${path} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
}

export interface FrameSpec {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload?: Buffer | string;
  /** Clients must mask; false sends an unmasked frame (a protocol error from a client). */
  masked?: boolean;
  /** The length written in the header, if not the payload's (a lie). */
  declaredLength?: number;
}

/** One WebSocket frame as a client would send it (RFC 6455 §5.2). */
export function frame(f: FrameSpec): Buffer {
  const payload = typeof f.payload === 'string' ? Buffer.from(f.payload) : (f.payload ?? Buffer.alloc(0));
  const masked = f.masked ?? true;
  const length = f.declaredLength ?? payload.length;
  const first = ((f.fin ?? true) ? 0x80 : 0) | (((f.rsv ?? 0) & 7) << 4) | (f.opcode & 0x0f);
  let header: Buffer;
  if (length < 126) header = Buffer.from([first, (masked ? 0x80 : 0) | length]);
  else if (length < 65536) {
    header = Buffer.from([first, (masked ? 0x80 : 0) | 126, 0, 0]);
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
  return Buffer.concat([header, mask, body]);
}

/**
 * A raw WebSocket client after a real handshake: write frames, see the server's
 * frames (unmasked, parsed minimally), and whether the server closed the socket.
 */
export interface RawWebSocket {
  socket: Socket;
  /** Opcodes of the frames received so far, with their payloads. */
  received: { opcode: number; payload: Buffer }[];
  closed: Promise<void>;
  isClosed: () => boolean;
}

export function rawWebSocket(port: number, path: string, headers: Record<string, string> = {}, onFrame?: (f: { opcode: number; payload: Buffer }, s: Socket) => void): Promise<RawWebSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let open = false;
    let closedFlag = false;
    const received: { opcode: number; payload: Buffer }[] = [];
    const closed = new Promise<void>((r) => socket.on('close', () => {
      closedFlag = true;
      r();
    }));
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write(upgradeRequest(path, headers)));
    socket.on('data', (d) => {
      buffer = Buffer.concat([buffer, d]);
      if (!open) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = statusOf(buffer);
        if (status !== 101) {
          socket.destroy();
          reject(new Error(`HTTP ${status}`));
          return;
        }
        open = true;
        buffer = buffer.subarray(end + 4);
        resolve({ socket, received, closed, isClosed: () => closedFlag });
      }
      // server frames: unmasked, lengths up to 64 bits (ours are small)
      for (;;) {
        if (buffer.length < 2) return;
        const len7 = (buffer[1] as number) & 0x7f;
        const at = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
        if (buffer.length < at) return;
        const length = len7 === 126 ? buffer.readUInt16BE(2) : len7 === 127 ? Number(buffer.readBigUInt64BE(2)) : len7;
        if (buffer.length < at + length) return;
        const f = { opcode: (buffer[0] as number) & 0x0f, payload: buffer.subarray(at, at + length) };
        buffer = buffer.subarray(at + length);
        received.push(f);
        onFrame?.(f, socket);
      }
    });
    socket.on('close', () => {
      if (!open) reject(new Error('closed before the handshake'));
    });
  });
}
