/**
 * The fleet kit against a real Prometheus, without the lab: two real `exitscope exporter`
 * processes whose bpftrace replays captures from the lab (nested paging on: a mixed workload;
 * off: 1031 page faults through the shadow MMU), and a host that is down. Prometheus (Debian's
 * package, 1 s scrapes, the bearer token from a file) scrapes them with deploy/'s rules loaded.
 * Then: every expression of the Grafana dashboard, filled in as Grafana would, returns data; every
 * rule evaluates without error; the alerts that must fire here do (nested paging off, exporter
 * down) and no other; each threshold alert finds its series once the threshold is out of the way;
 * every recording rule returns series; and Prometheus' totals equal the exporters' own /metrics.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleScript, removeBundle } from '../unit/support/bundle-script.js';
import { parseSamples } from '../unit/support/prom-text.js';
import { ALERTS_FILE, DASHBOARD_FILE, DEPLOY, dashboardQueries, fillGrafanaVariables } from '../deploy-kit.js';
import { freePort, type PromSample, TestPrometheus, until } from './support/prometheus.js';

const STAND_IN = join(import.meta.dirname, 'support/capture-bpftrace.mjs');
const TOKEN = 'replay-test-token';
const HOSTS = [
  { instance: 'hv-npt-on', capture: 'mix-3-vcpus-2-npt-on.bpftrace.jsonl', npt: 'on' },
  { instance: 'hv-npt-off', capture: 'npf-1031-npt-off.bpftrace.jsonl', npt: 'off' },
] as const;

async function scrape(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (!r.ok) throw new Error(`/metrics: ${r.status}`);
  return r.text();
}

/** Sum of a family's samples in an exposition text (labels ignored). */
function total(text: string, name: string): number {
  return parseSamples(text)
    .filter((s) => s.name === name)
    .reduce((a, s) => a + s.value, 0);
}

const instances = (r: PromSample[]): string[] => r.map((s) => s.metric.instance ?? '').sort();

describe('the dashboard and the rules on a real Prometheus scraping exporters', { timeout: 240_000 }, () => {
  let script: string;
  const exporters: ChildProcess[] = [];
  const ports: number[] = [];
  let prom: TestPrometheus;
  let deadPort: number;
  let rulesDir: string | undefined;

  beforeAll(async () => {
    script = await bundleScript(join(import.meta.dirname, 'support/exporter-on-capture.ts'));
    for (const _ of HOSTS) ports.push(await freePort());
    deadPort = await freePort(); // nothing listens there: a host whose exporter is down
    // the aggregates as written, evaluated every second instead of every minute (so that the test sees them evaluated)
    rulesDir = mkdtempSync(join(tmpdir(), 'aggregates-'));
    const aggregates = join(rulesDir, 'exitscope-aggregates.yml');
    writeFileSync(aggregates, readFileSync(join(DEPLOY, 'prometheus/exitscope-aggregates.yml'), 'utf8').replace(/^(\s+interval:) 1m$/m, '$1 1s'));
    // Prometheus first, so that it scrapes the counts while they grow (rates are then real, not 0)
    prom = await TestPrometheus.start({
      token: TOKEN,
      ruleFiles: [ALERTS_FILE, aggregates],
      targets: [...HOSTS.map((h, i) => ({ address: `127.0.0.1:${ports[i]}`, labels: { instance: h.instance } })), { address: `127.0.0.1:${deadPort}`, labels: { instance: 'hv-down' } }],
    });
    for (const [i, h] of HOSTS.entries()) {
      // one interval frame every 500 ms: the captures (19 and 7 frames) play over several 1 s scrapes
      const p = spawn(process.execPath, [script, STAND_IN, `127.0.0.1:${ports[i]}`, h.npt], { env: { ...process.env, EXITSCOPE_TEST_CAPTURE: h.capture, EXITSCOPE_TEST_FRAME_MS: '500', READ_TOKEN: TOKEN }, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      exporters.push(p);
      await until(() => (err.includes('Prometheus metrics at') ? true : p.exitCode !== null ? Promise.reject(new Error(err)) : undefined), 30_000, `the ${h.instance} exporter`);
    }
    // each capture replays in a few seconds; then the exporter's counts are final: wait until
    // Prometheus has scraped them (its latest value equals the exporter's own /metrics)
    for (const [i, h] of HOSTS.entries()) {
      const port = ports[i] ?? 0;
      const final = await until(
        async () => {
          const a = total(await scrape(port), 'exitscope_exits_total');
          await new Promise((r) => setTimeout(r, 1500));
          const b = total(await scrape(port), 'exitscope_exits_total');
          return a === b && b > 0 ? b : undefined;
        },
        30_000,
        `${h.instance}'s replay to end`,
      );
      await until(async () => ((await prom.query(`sum(exitscope_exits_total{instance="${h.instance}"})`))[0]?.value[1] === String(final) ? true : undefined), 30_000, `Prometheus to scrape ${h.instance}'s final counts (${final})`);
    }
  });

  afterAll(async () => {
    await prom?.stop();
    for (const p of exporters) {
      if (p.exitCode === null) {
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await gone;
      }
    }
    if (script) removeBundle(script);
    if (rulesDir) rmSync(rulesDir, { recursive: true, force: true });
  });

  it('Prometheus scrapes both exporters with the token and sees the third host down', async () => {
    const t = await prom.targets();
    expect(t.map((x) => [x.labels.instance, x.health]).sort()).toEqual([
      ['hv-down', 'down'],
      ['hv-npt-off', 'up'],
      ['hv-npt-on', 'up'],
    ]);
  });

  it("Prometheus' totals equal each exporter's /metrics, family by family", async () => {
    for (const [i, h] of HOSTS.entries()) {
      const text = await scrape(ports[i] ?? 0);
      for (const family of ['exitscope_exits_total', 'exitscope_page_faults_total', 'exitscope_fault_handler_calls_total', 'exitscope_exit_handling_seconds_count']) {
        const [s] = await prom.query(`sum(${family}{instance="${h.instance}"})`);
        expect(Number(s?.value[1]), `${h.instance} ${family}`).toBe(total(text, family));
      }
    }
  });

  it('every expression of the Grafana dashboard returns data', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThan(15);
    // the replays ran in the last minute or two: a 3-minute rate window holds all of them
    const empty: string[] = [];
    for (const q of queries) {
      const expr = fillGrafanaVariables(q.expr, { rateInterval: '3m', range: '5m' });
      const r = await prom.query(expr);
      if (r.length === 0) empty.push(`${q.panel} (${q.refId}): ${expr}`);
    }
    expect(empty).toEqual([]);
  });

  it('the panels read what the captures hold: both hosts, nested paging per host, TDP on one and shadow on the other', async () => {
    const v = dashboardQueries(JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')));
    const run = (title: string) => prom.query(fillGrafanaVariables(v.find((q) => q.panel === title)?.expr ?? 'missing', { rateInterval: '3m', range: '5m' }));
    const exits = await run('Exits/s by host');
    expect(instances(exits)).toEqual(['hv-npt-off', 'hv-npt-on']);
    // the mixed workload's counts grow over many frames: a real rate. (The npt-off capture's exits come
    // in one frame, and a counter that first appears with its final value has no increase to see.)
    expect(Number(exits.find((s) => s.metric.instance === 'hv-npt-on')?.value[1])).toBeGreaterThan(0);
    const paging = await run('Nested paging by host');
    expect(paging.map((s) => [s.metric.instance, s.value[1]]).sort()).toEqual([
      ['hv-npt-off', '0'],
      ['hv-npt-on', '1'],
    ]);
    const handlers = await run('Fault handler calls/s: TDP vs shadow');
    expect(handlers.map((s) => [s.metric.instance, s.metric.handler]).sort()).toEqual([
      ['hv-npt-off', 'paging64_page_fault'],
      ['hv-npt-on', 'kvm_tdp_page_fault'],
    ]);
    expect((await run('Hosts with nested paging off'))[0]?.value[1]).toBe('1');
  });

  it('every rule evaluates without error; the alerts that must fire here do, and only they', async () => {
    type Rule = { name: string; type: string; query: string; health: string; lastError?: string };
    // every group evaluates each second: wait until each rule has been evaluated once (health is then ok or err)
    const rules = await until(async () => {
      const all = (await prom.api<{ groups: { rules: Rule[] }[] }>('rules')).groups.flatMap((g) => g.rules);
      return all.every((r) => r.health !== 'unknown') ? all : undefined;
    }, 30_000, 'every rule to be evaluated');
    const alerts = rules.filter((r) => r.type === 'alerting');
    expect(alerts.map((r) => r.name).sort()).toEqual([...readFileSync(ALERTS_FILE, 'utf8').matchAll(/^\s*-\s*alert:\s*(\S+)/gm)].map((m) => m[1]).sort());
    for (const r of rules) expect([r.name, r.health, r.lastError ?? '']).toEqual([r.name, 'ok', '']);

    const firing: Record<string, string[]> = { ExitscopeNestedPagingOff: ['hv-npt-off'], ExitscopeExporterDown: ['hv-down'] };
    for (const a of alerts) expect([a.name, instances(await prom.query(a.query))]).toEqual([a.name, firing[a.name] ?? []]);

    // a threshold alert quiet here still reads real series: with its threshold out of the way, it finds them
    const thresholds = alerts.filter((a) => /\s>\s*[\d.e+]+$/.test(a.query));
    expect(thresholds.map((a) => a.name).sort()).toEqual(['ExitscopeCollectionGaps', 'ExitscopeExitStorm', 'ExitscopeLostEvents', 'ExitscopeMmioStorm']);
    for (const a of thresholds) {
      const r = await prom.query(a.query.replace(/\s>\s*[\d.e+]+$/, ' >= 0'));
      expect(instances(r).length, a.name).toBeGreaterThan(0);
    }
    // the MMIO storm's series is the mixed workload's MMIO faults, on the host where it ran
    const mmio = alerts.find((a) => a.name === 'ExitscopeMmioStorm');
    expect(instances(await prom.query(mmio?.query.replace(/\s>\s*[\d.e+]+$/, ' > 0') ?? ''))).toEqual(['hv-npt-on']);

    const recordings = rules.filter((r) => r.type === 'recording');
    expect(recordings.length).toBeGreaterThan(0);
    for (const r of recordings) expect([r.name, (await prom.query(r.query)).length > 0]).toEqual([r.name, true]);
  });
});
