/**
 * `exitscope diff BASE NEW`: two runs (recordings or report -f json files) side by side, with the
 * change and hints about what changed. Differences are the output, not an error: status 0.
 */
import { compareReports } from '../diff/compare.js';
import { type DiffFormat, formatDiff } from '../diff/format.js';
import { loadSide } from '../diff/load-side.js';
import { safeText } from '../views/safe-text.js';

export function diffCommand(basePath: string, nextPath: string, o: { format: DiffFormat; byVm: boolean }): number {
  const base = loadSide(basePath);
  const next = loadSide(nextPath);
  for (const w of [...base.warnings, ...next.warnings]) process.stderr.write(`${w.split('\n').map(safeText).join('\n')}\n`);
  process.stdout.write(formatDiff(compareReports(base.report, next.report, { baseLabel: basePath, nextLabel: nextPath, byVm: o.byVm }), o.format));
  return 0;
}
