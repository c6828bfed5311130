/**
 * GET /metrics and GET /healthz, for the StreamServer (serve, top --serve) and the exporter.
 * The WebSocket's rules: no token on loopback; otherwise the read token (or the control token)
 * as `Authorization: Bearer TOKEN`, Prometheus' `authorization` scrape setting. A query token is
 * not taken (a URL ends up in logs); a missing or wrong one is a 401 with WWW-Authenticate.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PLAIN_HEADERS } from '../server/plain-answer.js';
import type { RequestTarget } from '../server/request-target.js';
import type { MetricsService } from './service.js';

export const METRICS_PATHS = ['/metrics', '/healthz'] as const;

export interface Tokens {
  read?: string | undefined;
  control?: string | undefined;
}

/** Constant time whatever the lengths: both sides hashed first. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** Whether a request may read: no tokens (loopback), or either one as a bearer token. */
export function bearerAllowed(req: IncomingMessage, tokens: Tokens | undefined): boolean {
  if (!tokens?.read && !tokens?.control) return true;
  const auth = req.headers.authorization;
  if (!auth?.startsWith('Bearer ')) return false;
  const given = auth.slice(7);
  return (tokens.read !== undefined && tokens.read !== '' && sameSecret(given, tokens.read)) || (tokens.control !== undefined && tokens.control !== '' && sameSecret(given, tokens.control));
}

function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...PLAIN_HEADERS, 'cache-control': 'no-store', ...extra });
  res.end(`${text}\n`);
}

/** Answers the request if its path is one of ours; false otherwise (the caller goes on). */
export function serveMetricsRoute(req: IncomingMessage, res: ServerResponse, target: RequestTarget, service: MetricsService, tokens: Tokens | undefined, log: (line: string) => void): boolean {
  if (!(METRICS_PATHS as readonly string[]).includes(target.path)) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    plain(res, 405, 'Method Not Allowed', { allow: 'GET, HEAD' });
    return true;
  }
  if (!bearerAllowed(req, tokens)) {
    plain(res, 401, 'Unauthorized: send the token as Authorization: Bearer TOKEN', { 'www-authenticate': 'Bearer realm="exitscope"' });
    return true;
  }
  if (target.path === '/healthz') {
    const h = service.health();
    plain(res, h.ok ? 200 : 503, h.detail);
    return true;
  }
  service.endpoint.scrape().then(
    (parts) => {
      // the client went away while the body was made: nothing is sent, its memory may be reused
      if (res.destroyed) return void service.endpoint.release(parts);
      let length = 0;
      for (const p of parts) length += p.length;
      res.writeHead(200, { 'content-type': service.endpoint.contentType, 'content-length': String(length), 'cache-control': 'no-store' });
      // its memory is reused once written (or never, if the client went away mid-way)
      const sent = (): void => service.endpoint.release(parts);
      if (req.method === 'HEAD') return void res.end(sent);
      // one writev for the parts (the last body's families, unchanged, and the process metrics)
      res.cork();
      for (let i = 0; i < parts.length - 1; i++) res.write(parts[i]);
      res.end(parts[parts.length - 1], sent);
    },
    (e: unknown) => {
      log(`metrics: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) plain(res, 500, 'Internal Server Error');
      else res.destroy();
    },
  );
  return true;
}
