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

// diff goldens: pairs of the recordings above, compared as `exitscope diff BASE NEW --by vm`
// does (labels are the file names, so the goldens do not depend on where the checkout is)
const { loadSide } = await import(join(repo, 'dist/src/diff/load-side.js'));
const { compareReports } = await import(join(repo, 'dist/src/diff/compare.js'));
const { formatDiff } = await import(join(repo, 'dist/src/diff/format.js'));
const DIFF_PAIRS = [['run-npf-1031-npt-on', 'run-npf-1031-npt-off']];
for (const [base, next] of DIFF_PAIRS) {
  const side = (n) => loadSide(join(recordings, `${n}.jsonl`)).report;
  const diff = compareReports(side(base), side(next), { baseLabel: `${base}.jsonl`, nextLabel: `${next}.jsonl`, byVm: true });
  const name = `diff-${base.replace(/^run-/, '')}-vs-${next.replace(/^run-/, '')}`;
  for (const [format, ext] of [['text', 'txt'], ['json', 'json'], ['markdown', 'md']]) writeFileSync(join(golden, `${name}.${ext}`), formatDiff(diff, format));
  console.log(`golden ${name}`);
}
