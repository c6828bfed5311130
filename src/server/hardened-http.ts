/**
 * The HTTP server under both of exitscope's servers (StreamServer for serve and top --serve,
 * ExporterServer for the exporter): header and request timeouts checked often enough to matter,
 * a handler nothing a client sends can throw out of (400, or the response cut if it was under
 * way), and Node's own error answers (417, 400, 408, 431) replaced by plain ones with nosniff.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { answerAndClose, PLAIN_HEADERS } from './plain-answer.js';

export const why = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
export const peerOf = (socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string => `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;

export interface HardenedHttpOptions {
  /** Requests whose headers are not all in after this long are answered 408; the whole request gets twice that. */
  headersTimeoutMs: number;
  /** Handles a request; whatever it throws becomes a 400 and a log line. */
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  log: (line: string) => void;
}

export function createHardenedHttp(o: HardenedHttpOptions): Server {
  const http = createServer({
    headersTimeout: o.headersTimeoutMs,
    requestTimeout: 2 * o.headersTimeoutMs,
    // Node checks those timeouts only this often (30 s by default)
    connectionsCheckingInterval: Math.max(50, Math.min(1000, o.headersTimeoutMs / 4)),
    // checked by the handler instead: Node's own 400 for it has no content-type
    requireHostHeader: false,
  });
  http.on('request', (req, res) => {
    try {
      o.onRequest(req, res);
    } catch (e) {
      o.log(`request from ${peerOf(req.socket)} failed: ${why(e)}`);
      if (!res.headersSent) {
        res.writeHead(400, { ...PLAIN_HEADERS, connection: 'close' });
        res.end('Bad Request\n');
      } else res.destroy();
    }
  });
  // an Expect other than 100-continue: Node's own 417 would have no content-type
  http.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(417, { ...PLAIN_HEADERS, connection: 'close' });
    res.end('Expectation Failed\n');
  });
  // malformed request lines and headers, header floods, timeouts: what Node answers by
  // default, with our headers; never written into a response already under way
  http.on('clientError', (e: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (e.code === 'ECONNRESET' || inFlight) {
      socket.destroy();
      return;
    }
    answerAndClose(socket, e.code === 'HPE_HEADER_OVERFLOW' ? 431 : e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400);
  });
  return http;
}
