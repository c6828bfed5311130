/**
 * `exitscope baseline update --from FILE -o BASELINE`: a baseline for `run --baseline` is a report
 * (`report -f json`) of a good run. This writes one from a recording or a report, the same way
 * `run -f json --report-file BASELINE` does during the run itself.
 */
import { loadSide } from '../diff/load-side.js';
import { writeUserFile } from '../io/user-file.js';
import { formatReport } from '../report/format.js';
import { safeText } from '../views/safe-text.js';

export function baselineUpdateCommand(from: string, output: string): number {
  const side = loadSide(from);
  for (const w of side.warnings) process.stderr.write(`${w.split('\n').map(safeText).join('\n')}\n`);
  writeUserFile(output, formatReport(side.report, 'json'), 'GATE_WRITE', '-o');
  process.stderr.write(`exitscope: baseline written to ${safeText(output)} (${side.report.totalExits} exits over ${side.report.durationSeconds.toFixed(1)} s on ${safeText(side.report.host)})\n`);
  return 0;
}
