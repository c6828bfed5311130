import { UserError } from '../errors.js';

/** "[ADDR:]PORT" for --serve and serve: "8080" is loopback; "0.0.0.0:8080", "[::]:8080" are not. */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(spec.trim());
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new Error(`expected [ADDR:]PORT (e.g. 8080 or 0.0.0.0:8080), not '${spec}'`);
  const host = (m[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}

/**
 * Listens (via `listen`, the server's own) and returns the port it got (port 0: the one the system
 * chose is the one to say); the two errors a user can act on become UserErrors with the fix.
 */
export async function listenOrExplain(listen: () => Promise<{ port: number }>, spec: { host: string; port: number }): Promise<number> {
  try {
    return (await listen()).port;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UserError('PORT_IN_USE', `${spec.host}:${spec.port} is already in use`, 'choose another port, or stop what listens there (ss -ltnp)');
    if (code === 'EADDRNOTAVAIL') throw new UserError('BAD_LISTEN', `${spec.host} is not an address of this machine`, 'use 127.0.0.1, 0.0.0.0 or one of `ip addr`');
    throw e;
  }
}
