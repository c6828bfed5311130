/** `exitscope record -o FILE [--duration S]`: the stream into a file until the duration or Ctrl-C. */
import { type LiveOptions, startLive, waitForEnd } from './live.js';

export async function recordCommand(o: LiveOptions & { output: string; duration?: number; quiet?: boolean }): Promise<number> {
  let intervals = 0;
  const progress = !o.quiet && process.stderr.isTTY;
  const live = await startLive(o, (m) => {
    if (m.type === 'snapshot' && progress) process.stderr.write(`\rrecording ${o.output}: ${++intervals} intervals`);
  });
  if (!o.quiet) process.stderr.write(`exitscope: recording to ${o.output}${o.duration ? ` for ${o.duration} s` : ''}; Ctrl-C to stop\n`);
  await waitForEnd(live, o.duration);
  await live.stop();
  if (!o.quiet) process.stderr.write(`${progress ? '\n' : ''}exitscope: ${live.recording?.lines ?? 0} messages written to ${o.output}, ${live.agg.lost} events lost\n`);
  return live.agg.errors.length ? 1 : 0;
}
