import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MetricsService } from '../../src/metrics/service.js';
import type { Message } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { parseSamples, sumOf } from './support/prom-text.js';
import { useTestServers } from './support/test-servers.js';

const FIX = join(import.meta.dirname, '../fixtures');
const messages = parseRecording(readFileSync(join(FIX, 'recordings/run-npf-1031-npt-on.jsonl'), 'utf8')).messages;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const portOf = (url: string): number => Number(new URL(url.replace(/^ws/, 'http')).port);

describe('/metrics and /healthz on the StreamServer (serve, top --serve)', () => {
  const servers = useTestServers();

  it('without tokens (loopback): the metrics of what was published, counted exactly', async () => {
    const metrics = new MetricsService();
    const { server, url } = await servers.serve({ metrics });
    for (const m of messages) server.publish(m);
    const a = await get(portOf(url), '/metrics');
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const samples = parseSamples(a.body);
    const exits = messages.flatMap((m) => (m.type === 'snapshot' ? m.exits : [])).reduce((x, e) => x + e.n, 0);
    expect(sumOf(samples, 'exitscope_exits_total')).toBe(exits);
    expect(sumOf(samples, 'exitscope_nested_paging')).toBe(1);
    expect(samples.some((s) => s.name === 'process_cpu_seconds_total')).toBe(true);
    if (spawnSync('promtool', ['--version']).status === 0) expect(execFileSync('promtool', ['check', 'metrics'], { input: a.body, encoding: 'utf8' })).toBe('');
  });

  it('with tokens: the read or the control token as a bearer; none, a wrong one or ?token= is a 401 with WWW-Authenticate', async () => {
    const metrics = new MetricsService();
    const { server, url } = await servers.serve({ metrics, tokens: { read: 'r-secret', control: 'c-secret' } });
    for (const m of messages) server.publish(m);
    const port = portOf(url);
    for (const path of ['/metrics', '/healthz']) {
      for (const [headers, target] of [[{}, path], [{ authorization: 'Bearer wrong' }, path], [{ authorization: 'r-secret' }, path], [{ authorization: 'Basic r-secret' }, path], [{}, `${path}?token=r-secret`]] as const) {
        const a = await get(port, target, headers);
        expect(a.status, `${target} ${JSON.stringify(headers)}`).toBe(401);
        expect(a.headers['www-authenticate']).toMatch(/^Bearer /);
        expect(a.headers['x-content-type-options']).toBe('nosniff');
        expect(a.body).not.toMatch(/exitscope_/);
      }
    }
    for (const token of ['r-secret', 'c-secret']) {
      const a = await get(port, '/metrics', { authorization: `Bearer ${token}` });
      expect(a.status, token).toBe(200);
      expect(parseSamples(a.body).some((s) => s.name === 'exitscope_exits_total')).toBe(true);
    }
  });

  it('GET and HEAD only; other paths are the server\'s as before', async () => {
    const { url } = await servers.serve({ metrics: new MetricsService() });
    const port = portOf(url);
    const post = await get(port, '/metrics', {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await get(port, '/metrics', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect(head.body).toBe('');
    expect((await get(port, '/metricsx')).status).toBe(404);
    // a server without metrics (none asked for) has no such route
    const bare = await servers.serve();
    expect((await get(portOf(bare.url), '/metrics')).status).toBe(404);
  });

  it('/healthz: 503 with the reason until bpftrace is attached and counting; 200 while counts come; 503 when they stop', async () => {
    let now = 1_000_000;
    const metrics = new MetricsService({}, () => now);
    const { server, url } = await servers.serve({ metrics });
    const port = portOf(url);
    const health = async (): Promise<[number, string]> => {
      const a = await get(port, '/healthz');
      return [a.status, a.body.trim()];
    };
    expect(await health()).toEqual([503, 'starting: bpftrace is not attached yet']);
    const hello = messages[0] as Extract<Message, { type: 'hello' }>;
    server.publish({ ...hello, probes: hello.probes.map((p) => (p.probe === 'tracepoint:kvm:kvm_exit' ? { ...p, attached: false, detail: 'tracepoint missing' } : p)) });
    expect(await health()).toEqual([503, 'the kvm_exit probe is not attached: tracepoint missing']);
    server.publish(hello);
    expect((await health())[0]).toBe(503);
    for (const m of messages.slice(1).filter((x) => x.type !== 'end')) server.publish(m);
    const [status, detail] = await health();
    expect(status).toBe(200);
    expect(detail).toMatch(/^ok: counting, 1 VM processes, 0 events lost$/);
    now += 3 * hello.intervalMs + 5000;
    expect(await health()).toEqual([503, `no counts for ${(3 * hello.intervalMs + 5000) / 1000} s (bpftrace stalled or restarting)`]);
    server.publish({ type: 'end', t: 99_999, complete: false });
    expect(await health()).toEqual([503, 'collection ended (bpftrace gave up)']);
  });
});
