/**
 * The process' own metrics (src/metrics/process-metrics.ts): prom-client's default set under its
 * names, without its event-loop monitor (which would wake the process 100 times a second) and
 * without the gauges promtool refuses; nodejs_eventloop_lag_seconds measured at scrapes instead.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { LINT_FAILING_DEFAULTS, MONITOR_GAUGES, PROM_CLIENT_DEFAULTS, processMetricsInto } from '../../src/metrics/process-metrics.js';

const perfHooks = createRequire(import.meta.url)('node:perf_hooks') as typeof import('node:perf_hooks');
const names = (r: Registry): string[] => r.getMetricsAsArray().map((m) => m.name).sort();

describe('process metrics', () => {
  afterEach(() => vi.restoreAllMocks());

  it("are prom-client's default set, less the monitor's gauges and the ones promtool refuses", () => {
    const theirs = new Registry();
    collectDefaultMetrics({ register: theirs });
    const ours = new Registry();
    processMetricsInto(ours);
    const left = new Set<string>([...MONITOR_GAUGES, ...LINT_FAILING_DEFAULTS]);
    expect(names(ours)).toEqual(names(theirs).filter((n) => !left.has(n)));
    // and in prom-client's order (the text of a scrape keeps it)
    const inOrder = (r: Registry): string[] => r.getMetricsAsArray().map((m) => m.name);
    expect(inOrder(ours)).toEqual(inOrder(theirs).filter((n) => !left.has(n)));
    // what is left out is there in prom-client's set (its names did not change under us)
    for (const n of left) expect(names(theirs), n).toContain(n);
    expect(names(ours)).toContain('nodejs_eventloop_lag_seconds');
  });

  it.each(Object.entries(PROM_CLIENT_DEFAULTS))('prom-client module %s registers metrics', (_name, register) => {
    const r = new Registry();
    register(r, {});
    expect(r.getMetricsAsArray().length).toBeGreaterThan(0);
  });

  it('start no event-loop monitor (prom-client\'s own set does: the check can fail)', () => {
    const monitor = vi.spyOn(perfHooks, 'monitorEventLoopDelay');
    processMetricsInto(new Registry());
    expect(monitor).not.toHaveBeenCalled();
    collectDefaultMetrics({ register: new Registry() });
    expect(monitor).toHaveBeenCalled();
  });

  it('nodejs_eventloop_lag_seconds: 0 at the first scrape, then how late the last scrape\'s setImmediate ran', async () => {
    const r = new Registry();
    processMetricsInto(r);
    const lag = async (): Promise<number> => (await r.getSingleMetric('nodejs_eventloop_lag_seconds')?.get())?.values[0]?.value as number;
    expect(await lag()).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const second = await lag();
    expect(second).toBeGreaterThan(0);
    expect(second).toBeLessThan(60);
  });
});
