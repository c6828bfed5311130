/**
 * prom-client 15's default metric modules (lib/metrics/*.js, CommonJS, no types of their own): each
 * registers its metrics in a registry, as its collectDefaultMetrics calls them (process-metrics.ts).
 */
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';
  const register: (registry: Registry, config: Record<string, unknown>) => void;
  export default register;
}
