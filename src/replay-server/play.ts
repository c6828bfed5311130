/**
 * Plays a recording's messages into a sink (StreamServer.publish) at a pace: the I/O loop of
 * `serve --replay`, with the clock and the stop signal given, so tests drive it without real time.
 * A recording cut off before its `end` still ends the stream: clients (record --from, the page)
 * wait for an `end`, and a finished replay is over. That `end` says `complete: false`, as a report
 * of the cut-off file does.
 */
import type { Message } from '../protocol/messages.js';
import { pauseBefore } from './pace.js';

export interface PlayOptions {
  speed: number;
  /** Resolves after `ms`, or early when the replay is stopped. */
  sleep: (ms: number) => Promise<void>;
  /** True once the replay must stop (Ctrl-C, --duration). */
  stopped: () => boolean;
}

export interface PlayResult {
  published: number;
  /** The recording had no `end`: one was added. */
  endAdded: boolean;
  /** Stopped before the recording's end. */
  interrupted: boolean;
}

/** Yields to the event loop: at full speed the sockets still get written between messages. */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

export async function playRecording(messages: Iterable<Message>, publish: (m: Message) => void, o: PlayOptions): Promise<PlayResult> {
  let prevT = 0;
  let published = 0;
  let ended = false;
  let count = 0;
  for (const m of messages) {
    if (o.stopped()) return { published, endAdded: false, interrupted: true };
    if (m.type !== 'hello') {
      const wait = pauseBefore(prevT, m.t, o.speed);
      if (wait > 0) await o.sleep(wait);
      else if (++count % 64 === 0) await turn();
      prevT = Math.max(prevT, m.t);
      if (o.stopped()) return { published, endAdded: false, interrupted: true };
    }
    publish(m);
    published++;
    if (m.type === 'end') {
      ended = true;
      break; // nothing after an end belongs to the stream
    }
  }
  if (!ended && published > 0) {
    publish({ type: 'end', t: prevT, complete: false });
    published++;
    return { published, endAdded: true, interrupted: false };
  }
  return { published, endAdded: false, interrupted: false };
}
