#!/usr/bin/env node
// Regenerates the golden reports from the recorded fixtures, on purpose (review the diff!).
//   npm run build && node scripts/update-goldens.mjs
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const { loadRecording } = await import(join(repo, 'dist/src/commands/replay.js'));
const { buildReport } = await import(join(repo, 'dist/src/report/report.js'));
const { formatReport } = await import(join(repo, 'dist/src/report/format.js'));
const recordings = join(repo, 'test/fixtures/recordings');
const golden = join(repo, 'test/fixtures/golden');
mkdirSync(golden, { recursive: true });
for (const f of readdirSync(recordings).filter((n) => n.endsWith('.jsonl'))) {
  const report = buildReport(loadRecording(join(recordings, f)));
  const base = f.replace(/\.jsonl$/, '');
  writeFileSync(join(golden, `${base}.report.json`), formatReport(report, 'json'));
  writeFileSync(join(golden, `${base}.report.txt`), formatReport(report, 'text'));
  console.log(`golden ${base}`);
}
