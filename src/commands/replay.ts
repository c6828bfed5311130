/**
 * `exitscope replay FILE` and `exitscope report FILE`: a recording read back through the same model,
 * streamed (a message at a time: memory follows the keys, not the file's size).
 */
import { writeAllAtomic } from '../flame/outputs.js';
import { Aggregate } from '../model/aggregate.js';
import { type Format, formatReport } from '../report/format.js';
import { buildReport } from '../report/report.js';
import { describeProblems, RecordingFile } from '../recording/recording.js';
import { plainTop } from '../views/plain-top.js';

function warnProblems(file: RecordingFile): void {
  const { problems, problemCount } = file.lines;
  if (problemCount) process.stderr.write(`${describeProblems(file.path, problems, problemCount)}\n`);
}

/** The model of a whole recording. `longestWindowMs`: how much recent history to keep (0: the totals only). */
export function loadRecording(path: string, longestWindowMs = 60_000): Aggregate {
  const file = new RecordingFile(path);
  const agg = new Aggregate(longestWindowMs);
  for (const m of file) agg.apply(m);
  warnProblems(file);
  return agg;
}

export function reportCommand(path: string, format: Format, output?: string): number {
  // a report is of the totals: no window history is kept
  const text = formatReport(buildReport(loadRecording(path, 0)), format);
  // -o: the whole file or none (written beside it, then renamed into place)
  if (output !== undefined) writeAllAtomic([[output, text]], undefined, 'REPORT_WRITE');
  else process.stdout.write(text);
  return 0;
}

/** Stdout's reader went away (`replay F | head`): nothing more to print for. */
const stdoutGone = (): boolean => process.stdout.destroyed || process.stdout.writableEnded;

/** Prints each interval as `top --plain` would have, at recorded pace with --realtime. */
export async function replayCommand(path: string, o: { realtime: boolean; windowSeconds: number }): Promise<number> {
  const file = new RecordingFile(path);
  const agg = new Aggregate();
  let lastT = 0;
  for (const m of file) {
    agg.apply(m);
    if (m.type !== 'snapshot') continue;
    if (o.realtime && m.t > lastT) await new Promise((r) => setTimeout(r, Math.min(5000, m.t - lastT)));
    lastT = m.t;
    if (stdoutGone()) return 0;
    process.stdout.write(`--- t=${(m.t / 1000).toFixed(1)}s${m.final ? ' (final)' : ''}\n${plainTop(agg, o.windowSeconds * 1000)}\n`);
  }
  warnProblems(file);
  if (agg.ended === undefined) process.stderr.write('exitscope: warning: the recording has no end message (cut off while recording?)\n');
  return 0;
}
