/**
 * `exitscope report FILE -f html [-o OUT]`: the HTML report of a recording (src/html-report/),
 * written atomically to OUT (a temporary file renamed into place: never half a file), or to
 * stdout when it is not a terminal. The Report in it is built from the recording itself, exactly
 * as `report -f json` builds it; the embedded messages are the bounded stream.
 */
import { basename, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { checkWritable, writeAllAtomic } from '../flame/outputs.js';
import { boundedMessages } from '../html-report/bounded-messages.js';
import { renderHtmlReport } from '../html-report/render.js';
import { Aggregate } from '../model/aggregate.js';
import type { Message } from '../protocol/messages.js';
import { describeProblems, RecordingFile } from '../recording/recording.js';
import { buildReport } from '../report/report.js';
import { livePage } from '../server/live-page.js';

function* tap(messages: Iterable<Message>, each: (m: Message) => void): Generator<Message> {
  for (const m of messages) {
    each(m);
    yield m;
  }
}

/** The HTML of a recording's report (reads the file twice; memory: the bounded stream and the model's totals). */
export function htmlReportOf(path: string): string {
  const agg = new Aggregate(0); // a report is of the totals: no window history
  let pass = 0;
  let last: RecordingFile | undefined;
  const bounded = boundedMessages(() => {
    last = new RecordingFile(path);
    // the second pass also feeds the model the report is built from
    return ++pass === 2 ? tap(last, (m) => agg.apply(m)) : last;
  });
  const { problems, problemCount } = (last as RecordingFile | undefined)?.lines ?? { problems: [], problemCount: 0 };
  if (problemCount) process.stderr.write(`${describeProblems(path, problems, problemCount)}\n`);
  const page = livePage({ embeddedMessages: bounded.messages, title: `exitscope report: ${basename(path)}` });
  return renderHtmlReport({ report: buildReport(agg), messages: bounded.messages, source: basename(path), perPoint: bounded.perPoint, page });
}

export function reportHtmlCommand(path: string, output: string | undefined): number {
  if (output === undefined && process.stdout.isTTY) throw new UserError('USAGE', 'an HTML report is a file, not text for a terminal', 'give -o FILE.html, or redirect it: exitscope report REC -f html > report.html');
  if (output !== undefined) checkWritable({ html: resolve(output) }); // before reading the recording twice
  const html = htmlReportOf(path);
  if (output === undefined) {
    process.stdout.write(html);
    return 0;
  }
  writeAllAtomic([[output, html]], undefined, 'REPORT_WRITE');
  process.stderr.write(`exitscope: HTML report written to ${output}\n`);
  return 0;
}
