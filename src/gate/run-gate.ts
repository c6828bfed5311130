/**
 * The gate around `exitscope run`: the baseline is read and the rules parsed before anything is
 * traced (a typo or a missing baseline fails at once); after COMMAND, this run is compared with
 * the baseline, the summary and JUnit files are written, and the status is chosen: COMMAND's own
 * when it failed, GATE_FAILED_STATUS when it succeeded and a rule is broken.
 */
import { UserError } from '../errors.js';
import { compareReports } from '../diff/compare.js';
import type { LoadedSide } from '../diff/load-side.js';
import { writeUserFile } from '../io/user-file.js';
import type { Report } from '../report/report.js';
import { safeText } from '../views/safe-text.js';
import { evaluateGate, type GateVerdict } from './evaluate.js';
import { gateJunit } from './junit.js';
import type { GateRule } from './spec.js';
import { gateSummaryMarkdown } from './summary-markdown.js';

/** `run`'s status when COMMAND succeeded but a --fail-on rule is broken (2 is a user error). */
export const GATE_FAILED_STATUS = 3;

export interface GateOptions {
  baseline?: string;
  failOn?: GateRule[];
  /** markdown summary, appended (GitHub's $GITHUB_STEP_SUMMARY is appended to by each step) */
  summary?: string;
  /** JUnit XML, one test case per rule */
  junit?: string;
}

export interface PreparedGate {
  o: GateOptions;
  baseline?: LoadedSide;
}

/**
 * Before tracing: the options make sense together and the baseline can be read. The baseline's
 * reader (and zod, which checks it) is loaded only when there is one: most runs have none.
 */
export async function prepareGate(o: GateOptions): Promise<PreparedGate> {
  if (o.failOn?.length && !o.baseline) throw new UserError('NO_BASELINE', '--fail-on compares this run with a baseline, and none was given', 'add --baseline FILE (a recording or report -f json of a good run; exitscope baseline update writes one)');
  if (o.junit && !o.failOn?.length) throw new UserError('NO_BASELINE', '--junit writes one test case per --fail-on rule, and no rule was given', "add --baseline FILE --fail-on 'total:+20%' (docs/ci.md)");
  const baseline = o.baseline ? (await import('../diff/load-side.js')).loadSide(o.baseline) : undefined;
  for (const w of baseline?.warnings ?? []) process.stderr.write(`${w.split('\n').map(safeText).join('\n')}\n`);
  return { o, ...(baseline ? { baseline } : {}) };
}

/** After COMMAND: compare, write the files, say the verdict; returns the status run exits with. */
export function finishGate(g: PreparedGate, report: Report, commandStatus: number, runLabel: string): number {
  const { o, baseline } = g;
  if (!baseline && !o.summary) return commandStatus;
  const diff = baseline ? compareReports(baseline.report, report, { baseLabel: baseline.path, nextLabel: runLabel, byVm: true }) : undefined;
  const verdict: GateVerdict | undefined = diff && o.failOn?.length ? evaluateGate(o.failOn, diff) : undefined;
  // appended, in place (each CI step adds its own; it may be a FIFO)
  if (o.summary) writeUserFile(o.summary, gateSummaryMarkdown({ commandStatus, report, ...(diff ? { diff } : {}), ...(verdict ? { verdict } : {}) }), 'GATE_WRITE', '--summary', 'a');
  if (o.junit && verdict && baseline) writeUserFile(o.junit, gateJunit(verdict, { baseline: baseline.path, commandStatus }), 'GATE_WRITE', '--junit');
  if (!verdict) return commandStatus;
  for (const r of verdict.results) process.stderr.write(`exitscope: gate: ${safeText(r.rule)} ${safeText(r.detail)}\n`);
  const broken = verdict.results.filter((r) => !r.passed).map((r) => r.rule);
  process.stderr.write(verdict.passed ? `exitscope: gate passed (${verdict.results.length} rules against ${safeText(baseline?.path ?? '')})\n` : `exitscope: gate FAILED: ${broken.map(safeText).join(', ')} broken against ${safeText(baseline?.path ?? '')}${commandStatus === 0 ? ` (status ${GATE_FAILED_STATUS})` : ` (the command's own status ${commandStatus} is kept)`}\n`);
  if (commandStatus !== 0) return commandStatus;
  return verdict.passed ? 0 : GATE_FAILED_STATUS;
}
