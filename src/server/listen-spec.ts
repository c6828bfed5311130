/** "[ADDR:]PORT" for --serve and serve: "8080" is loopback; "0.0.0.0:8080", "[::]:8080" are not. */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(spec.trim());
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new Error(`expected [ADDR:]PORT (e.g. 8080 or 0.0.0.0:8080), not '${spec}'`);
  const host = (m[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}
