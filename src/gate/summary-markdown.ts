/**
 * The markdown summary a CI system shows for the job (GitHub's $GITHUB_STEP_SUMMARY, a merge
 * request note): the verdict first, each rule with both sides and its limit, then what changed
 * (the diff's own markdown, hints included). Pure.
 */
import type { ReportDiff } from '../diff/compare.js';
import { diffMarkdown, mdTable } from '../diff/format.js';
import { mdText } from '../report/format.js';
import type { Report } from '../report/report.js';
import { formatReport } from '../report/format.js';
import type { GateVerdict } from './evaluate.js';

export interface SummaryInput {
  /** the traced command's exit status */
  commandStatus: number;
  /** with a baseline: the comparison and, with --fail-on, the verdict */
  diff?: ReportDiff;
  verdict?: GateVerdict;
  /** without a baseline: this run's report alone */
  report: Report;
}

const cell = (x: number | null): string => (x === null ? 'not measured' : Number.isInteger(x) ? String(x) : x.toFixed(2));

export function gateSummaryMarkdown(s: SummaryInput): string {
  const out: string[] = [];
  const command = s.commandStatus === 0 ? 'the command succeeded' : `the command failed (status ${s.commandStatus})`;
  if (s.verdict) {
    const v = s.verdict;
    out.push(`## exitscope gate: ${v.passed ? 'passed' : 'FAILED'} (${v.broken} of ${v.results.length} rule${v.results.length === 1 ? '' : 's'} broken; ${command})`, '');
    // a rule's text is a parsed rule (names, digits, + - > % ( ) : .): safe in a code span
    out.push(mdTable(['rule', 'base', 'new', 'limit', 'result'], v.results.map((r) => [r.rule, cell(r.base), cell(r.next), cell(r.limit), r.detail]), [0]));
    const broken = v.results.filter((r) => !r.passed);
    if (broken.length) out.push('', ...broken.map((r) => `- \`${r.rule}\` ${mdText(r.detail)}`));
    out.push('');
  } else out.push(`## exitscope: ${command}`, '');
  // the diff against the baseline, or this run's report when there is none
  out.push(s.diff ? diffMarkdown(s.diff, '###') : formatReport(s.report, 'markdown'));
  return `${out.join('\n').trimEnd()}\n`;
}
