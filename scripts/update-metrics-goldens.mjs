#!/usr/bin/env node
// Regenerates the golden /metrics texts from the recorded fixtures, on purpose (review the diff!).
//   npm run build && node scripts/update-metrics-goldens.mjs
// Process metrics are left out (they are this process's, not the recording's); one golden with
// per-vCPU labels (--metrics-vcpu). test/unit/metrics-exposition.test.ts compares against these.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const { parseRecording } = await import(join(repo, 'dist/src/recording/recording.js'));
const { MetricsModel } = await import(join(repo, 'dist/src/metrics/model.js'));
const { metricsRegistry } = await import(join(repo, 'dist/src/metrics/exposition.js'));
const recordings = join(repo, 'test/fixtures/recordings');
const golden = join(repo, 'test/fixtures/golden');

async function exposition(file, perVcpu) {
  const model = new MetricsModel({ perVcpu });
  for (const m of parseRecording(readFileSync(file, 'utf8')).messages) model.apply(m);
  return metricsRegistry(model, { processMetrics: false }).metrics();
}

for (const f of readdirSync(recordings).filter((n) => n.endsWith('.jsonl'))) {
  const base = f.replace(/\.jsonl$/, '');
  writeFileSync(join(golden, `${base}.metrics.txt`), await exposition(join(recordings, f), false));
  console.log(`golden ${base}.metrics.txt`);
}
const VCPU = 'run-mix-3-vcpus-2-npt-on';
writeFileSync(join(golden, `${VCPU}.metrics-vcpu.txt`), await exposition(join(recordings, `${VCPU}.jsonl`), true));
console.log(`golden ${VCPU}.metrics-vcpu.txt`);
