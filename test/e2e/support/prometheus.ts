/**
 * A real Prometheus (Debian's package) for the tests: a generated config in a temporary directory,
 * 1 s scrapes, a free loopback port, its TSDB in the same directory; queried over its HTTP API.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function until<T>(probe: () => Promise<T | undefined> | T | undefined, ms: number, what: string): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface ScrapeTarget {
  address: string;
  /** Labels Prometheus adds (instance overrides the address as the instance label). */
  labels?: Record<string, string>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export class TestPrometheus {
  private constructor(
    readonly dir: string,
    readonly url: string,
    private readonly proc: ChildProcess,
    private readonly log: () => string,
  ) {}

  /** Starts Prometheus scraping the targets as job "exitscope" (bearer token from a file), with these rule files. */
  static async start(o: { targets: ScrapeTarget[]; token: string; ruleFiles?: string[] }): Promise<TestPrometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'prometheus-test-'));
    writeFileSync(join(dir, 'token'), `${o.token}\n`, { mode: 0o600 });
    const rules = (o.ruleFiles ?? []).map((f) => {
      copyFileSync(f, join(dir, basename(f)));
      return basename(f);
    });
    const targets = o.targets.map((t) => `      - targets: ['${t.address}']\n        labels: {${Object.entries(t.labels ?? {}).map(([k, v]) => ` ${k}: '${v}'`).join(',')} }`).join('\n');
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        ...(rules.length ? ['rule_files:', ...rules.map((r) => `  - ${r}`)] : []),
        'scrape_configs:',
        '  - job_name: exitscope',
        '    authorization:',
        '      type: Bearer',
        `      credentials_file: ${join(dir, 'token')}`,
        '    static_configs:',
        targets,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const proc = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
    const p = new TestPrometheus(dir, `http://127.0.0.1:${port}`, proc, () => log);
    await until(async () => ((await fetch(`${p.url}/-/ready`).catch(() => undefined))?.ok ? true : undefined), 60_000, `Prometheus to be ready\n${log}`);
    return p;
  }

  /** GET /api/v1/PATH; throws with Prometheus' error text when the status is not success. */
  async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const r = await fetch(`${this.url}/api/v1/${path}?${new URLSearchParams(params).toString()}`);
    const body = (await r.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.error ?? r.status}`);
    return body.data;
  }

  /** An instant query: its vector (a scalar as one sample without labels). */
  async query(expr: string, time?: number): Promise<PromSample[]> {
    const d = await this.api<{ resultType: string; result: PromSample[] | [number, string] }>('query', { query: expr, ...(time !== undefined ? { time: String(time) } : {}) });
    if (d.resultType === 'scalar') return [{ metric: {}, value: d.result as [number, string] }];
    return d.result as PromSample[];
  }

  /** The scrape targets and their health. */
  async targets(): Promise<{ labels: Record<string, string>; health: string; lastError: string }[]> {
    return (await this.api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>('targets')).activeTargets;
  }

  logTail(): string {
    return this.log();
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const gone = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
