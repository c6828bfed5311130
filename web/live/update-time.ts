/**
 * Time per page update (view model + every panel), measured with performance.now around the
 * update and kept in the page: shown in the footer, and readable by tests and benchmarks as
 * window.__exitscopeUpdateMs (the most recent, bounded) and body[data-update-ms] (the last one).
 */
import { byId } from './dom.js';

const KEEP = 1000;
const times: number[] = [];
(window as unknown as { __exitscopeUpdateMs: number[] }).__exitscopeUpdateMs = times;

export function recordUpdateTime(ms: number): void {
  times.push(ms);
  if (times.length > KEEP) times.shift();
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  document.body.setAttribute('data-update-ms', ms.toFixed(2));
  byId('update-time').textContent = `update ${ms.toFixed(1)} ms (median ${median.toFixed(1)} ms over ${times.length})`;
}
