/** `exitscope replay FILE` and `exitscope report FILE`: a recording read back through the same model. */
import { Aggregate } from '../model/aggregate.js';
import { type Format, formatReport } from '../report/format.js';
import { buildReport } from '../report/report.js';
import { describeProblems, readRecording } from '../recording/recording.js';
import { plainTop } from '../views/plain-top.js';

export function loadRecording(path: string): Aggregate {
  const { messages, problems } = readRecording(path);
  if (problems.length) process.stderr.write(`${describeProblems(path, problems)}\n`);
  const agg = new Aggregate();
  for (const m of messages) agg.apply(m);
  return agg;
}

export function reportCommand(path: string, format: Format): number {
  process.stdout.write(formatReport(buildReport(loadRecording(path)), format));
  return 0;
}

/** Prints each interval as `top --plain` would have, at recorded pace with --realtime. */
export async function replayCommand(path: string, o: { realtime: boolean; windowSeconds: number }): Promise<number> {
  const { messages, problems } = readRecording(path);
  if (problems.length) process.stderr.write(`${describeProblems(path, problems)}\n`);
  const agg = new Aggregate();
  let lastT = 0;
  for (const m of messages) {
    agg.apply(m);
    if (m.type !== 'snapshot') continue;
    if (o.realtime && m.t > lastT) await new Promise((r) => setTimeout(r, Math.min(5000, m.t - lastT)));
    lastT = m.t;
    process.stdout.write(`--- t=${(m.t / 1000).toFixed(1)}s${m.final ? ' (final)' : ''}\n${plainTop(agg, o.windowSeconds * 1000)}\n`);
  }
  if (agg.ended === undefined) process.stderr.write('exitscope: warning: the recording has no end message (cut off while recording?)\n');
  return 0;
}
