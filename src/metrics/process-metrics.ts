/**
 * The process' own metrics: prom-client 15's default metrics, under its standard names, but for
 * two groups.
 * - Left out, its event-loop monitor's gauges (nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,
 *   p99}_seconds): perf_hooks.monitorEventLoopDelay behind them wakes the process 100 times a second
 *   (prom-client's 10 ms sampling), which was 0.8% of a core of an exporter that does nothing else
 *   (1.13% → 0.35% without it, and 4.3% → 3.0% at 1,000 VMs: docs/benchmarks.md section 6), on
 *   every host of a fleet. A coarser sampling is no way out: Node records the time between two of its
 *   timer's ticks, so every one of those gauges includes the sampling interval. What is kept is
 *   prom-client's own `nodejs_eventloop_lag_seconds` (how late a setImmediate made at a scrape
 *   ran: measured at each scrape, shown at the next, as prom-client does), made here the same way.
 * - Left out, the gauges Prometheus' own linter refuses (named *_total: `promtool check metrics`
 *   fails on them), so that a scrape lints clean.
 * prom-client has no switch for either: its collectDefaultMetrics always starts the monitor. Its
 * default metrics are its modules, one each, called here as collectDefaultMetrics calls them
 * (prom-client is pinned: test/unit/process-metrics.test.ts checks the names against its own set).
 */
import { Gauge, type Registry } from 'prom-client';
// imported one by one, by name: a bundle of exitscope (the tests' esbuild bundles) carries them too
import gc from 'prom-client/lib/metrics/gc.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';

/**
 * prom-client's default metric modules (its lib/defaultMetrics.js, in its order) that exitscope
 * registers: all but eventLoopLag. processResources needs process.getActiveResourcesInfo (Node >= 17;
 * prom-client skips it without).
 */
export const PROM_CLIENT_DEFAULTS = {
  processCpuTotal,
  processStartTime,
  osMemoryHeap,
  processOpenFileDescriptors,
  processMaxFileDescriptors,
  ...(typeof process.getActiveResourcesInfo === 'function' ? { processResources } : {}),
  processHandles,
  processRequests,
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
  version,
  gc,
};

/** prom-client's event-loop gauges that only its monitor feeds: not registered (above). */
export const MONITOR_GAUGES = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'].map((s) => `nodejs_eventloop_lag_${s}_seconds`);

/** Gauges named like counters, which `promtool check metrics` refuses: removed after registering. */
export const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export function processMetricsInto(registry: Registry): void {
  for (const [name, register] of Object.entries(PROM_CLIENT_DEFAULTS)) {
    register(registry, {});
    // where prom-client registers its eventLoopLag module: the text keeps its order
    if (name === 'processMaxFileDescriptors') eventLoopLagInto(registry);
  }
  for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
}

/** prom-client's nodejs_eventloop_lag_seconds, without the monitor: the lateness of a setImmediate made at a scrape, reported at the next one. */
function eventLoopLagInto(registry: Registry): void {
  let lateness = 0;
  new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Lag of event loop in seconds.',
    registers: [registry],
    aggregator: 'average',
    collect() {
      this.set(lateness);
      const start = process.hrtime.bigint();
      setImmediate(() => {
        lateness = Number(process.hrtime.bigint() - start) / 1e9;
      });
    },
  });
}
