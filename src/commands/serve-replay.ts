/**
 * `exitscope serve --replay FILE [ADDR:]PORT [--speed X]`: a recording served as if it were live,
 * to the web page and to any WebSocket client (record --from, attach, scripts). No KVM, no
 * bpftrace, no root: nothing is traced. The server is the live one (tokens, Origin checks, limits).
 *
 * - The replay starts when the first client connects (so the first viewer sees it from the start);
 *   clients that join later get the server's catch-up (the totals so far, exact) and then the rest.
 * - At the recording's end the clients get its `end`; the server then keeps serving the finished
 *   stream (late viewers get it all as the catch-up) until Ctrl-C or --duration.
 * - Ctrl-C stops at once: the server closes (1001) and no `end` is made up for an unfinished replay.
 */
import { describeProblems, RecordingFile } from '../recording/recording.js';
import type { Message } from '../protocol/messages.js';
import { describeSpeed } from '../replay-server/pace.js';
import { playRecording } from '../replay-server/play.js';
import { type ServeOptions, startServer } from '../server/start.js';
import { onInterrupt } from './live.js';

export interface ServeReplayOptions extends ServeOptions {
  file: string;
  /** A factor; 0 is as fast as possible. */
  speed: number;
  duration?: number;
}

/** A stop flag whose sleeps end early when it is set. */
function stopSwitch(): { stopped: () => boolean; stop: () => void; sleep: (ms: number) => Promise<void>; untilStopped: Promise<void> } {
  let stopped = false;
  const wakers = new Set<() => void>();
  let release: () => void = () => undefined;
  const untilStopped = new Promise<void>((r) => (release = r));
  return {
    stopped: () => stopped,
    stop: () => {
      stopped = true;
      for (const w of wakers) w();
      release();
    },
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          wakers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        wakers.add(done);
      }),
    untilStopped,
  };
}

export async function serveReplayCommand(o: ServeReplayOptions): Promise<number> {
  const say = (l: string): void => void process.stderr.write(`${l}\n`);
  const file = new RecordingFile(o.file);
  // the first message read before the server starts: a file that is no recording is said first
  const messages = file[Symbol.iterator]();
  const first = messages.next();
  const all: Iterable<Message> = first.done ? [] : { [Symbol.iterator]: () => prepend(first.value, messages) };

  const served = await startServer({ ...o, replay: true, flameUnavailable: 'this server replays a recording: there is nothing live to sample' }, say);
  const sw = stopSwitch();
  const off = onInterrupt(() => sw.stop());
  const timer = o.duration !== undefined ? setTimeout(() => sw.stop(), o.duration * 1000) : undefined;
  try {
    say(`exitscope: replaying ${o.file} ${describeSpeed(o.speed)} when the first client connects; Ctrl-C stops`);
    while (served.server.clientCount === 0 && !sw.stopped()) await sw.sleep(50);
    if (sw.stopped()) return 0;
    const r = await playRecording(all, (m) => served.server.publish(m), { speed: o.speed, sleep: sw.sleep, stopped: sw.stopped });
    if (!r.interrupted) {
      if (r.endAdded) say('exitscope: warning: the recording has no end message (cut off while recording?); the stream was ended with complete: false');
      say(`exitscope: replay finished (${r.published} messages); serving the finished stream to late viewers until Ctrl-C${o.duration !== undefined ? ' or --duration' : ''}`);
      await sw.untilStopped;
    }
    return 0;
  } finally {
    if (timer) clearTimeout(timer);
    await served.server.close();
    off();
    const { problems, problemCount } = file.lines;
    if (problemCount) say(describeProblems(o.file, problems, problemCount));
  }
}

function* prepend<T>(head: T, tail: Iterator<T>): Generator<T> {
  yield head;
  for (let n = tail.next(); !n.done; n = tail.next()) yield n.value;
}
