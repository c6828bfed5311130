/**
 * The exporter's server, started before tracing (a port problem is said at once, before bpftrace
 * attaches): address, token (generated off loopback, printed once), the metrics service.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import type { MetricsOptions } from '../metrics/model.js';
import { MetricsService } from '../metrics/service.js';
import { listenOrExplain, parseListen } from '../server/listen-spec.js';
import { isLoopback } from '../server/server.js';
import { ExporterServer } from './http-server.js';

export interface ExporterOptions {
  listen: string;
  readToken?: string;
  /** A file holding the read token (systemd's LoadCredential=, a secret kept out of `ps`). */
  readTokenFile?: string;
  metrics: Partial<MetricsOptions>;
}

/** The token from --read-token or --read-token-file (one line; surrounding whitespace dropped). */
export function readTokenOf(o: Pick<ExporterOptions, 'readToken' | 'readTokenFile'>): string | undefined {
  if (o.readToken !== undefined && o.readTokenFile !== undefined) throw new UserError('USAGE', '--read-token and --read-token-file both give the token', 'give one of them');
  if (o.readToken !== undefined) {
    if (o.readToken.trim() === '') throw new UserError('USAGE', '--read-token is empty', 'give a token, e.g. $(openssl rand -hex 16)');
    return o.readToken;
  }
  if (o.readTokenFile === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(o.readTokenFile, 'utf8');
  } catch (e) {
    throw new UserError('TOKEN_FILE', `cannot read the token file ${o.readTokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'give a readable file holding the token on one line');
  }
  const token = text.trim();
  if (token === '' || token.includes('\n')) throw new UserError('TOKEN_FILE', `the token file ${o.readTokenFile} ${token === '' ? 'is empty' : 'has more than one line'}`, 'put the token alone on one line, e.g. openssl rand -hex 16 > FILE');
  return token;
}

export async function startExporterServer(o: ExporterOptions, service: MetricsService, say: (line: string) => void): Promise<ExporterServer> {
  let spec: { host: string; port: number };
  try {
    spec = parseListen(o.listen);
  } catch (e) {
    throw new UserError('BAD_LISTEN', (e as Error).message, 'give a port (loopback) or ADDR:PORT, e.g. exporter 9477 or exporter 0.0.0.0:9477');
  }
  let token = readTokenOf(o);
  const generated = token === undefined && !isLoopback(spec.host);
  if (generated) token = randomBytes(18).toString('base64url');
  const server = new ExporterServer({ host: spec.host, port: spec.port, service, ...(token ? { tokens: { read: token } } : {}), onLog: (l) => say(`exitscope: exporter: ${l}`) });
  const port = await listenOrExplain(() => server.listen(), spec);
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  say(`exitscope: exporter: Prometheus metrics at http://${host}:${port}/metrics, health at /healthz${generated ? ` (token: ${token})` : token ? ' (read token given)' : ''}`);
  if (generated) say('exitscope: exporter: the token was generated because the address is not loopback; Prometheus sends it with `authorization: {credentials: TOKEN}` (Authorization: Bearer TOKEN)');
  return server;
}
