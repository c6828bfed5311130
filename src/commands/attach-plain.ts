/** `exitscope attach --plain` (or without a TTY): the remote stream as refreshing text tables. */
import { Aggregate } from '../model/aggregate.js';
import { RecordingWriter } from '../recording/recording.js';
import { RemoteStream } from '../remote/remote-stream.js';
import { plainTop } from '../views/plain-top.js';
import { safeText } from '../views/safe-text.js';
import { onInterrupt } from './live.js';

export async function attachPlainCommand(o: { url: URL; token?: string; windowSeconds: number; output?: string; duration?: number }): Promise<number> {
  let agg = new Aggregate();
  let recording: RecordingWriter | undefined;
  let recordingDone = false; // -o records one connection (a reconnection's catch-up would count twice)
  // -o could not be opened or written (disk full): the command stops with that error (the CLI
  // prints it with its fix, status 2); the file keeps what was written and stays readable
  let failure: unknown;
  let stopWaiting: (() => void) | undefined;
  const fail = (e: unknown): void => {
    failure ??= e;
    remote.stop();
    stopWaiting?.();
  };
  const tty = process.stdout.isTTY === true;
  const remote = new RemoteStream({
    url: o.url,
    ...(o.token ? { token: o.token } : {}),
    onState: (r) => {
      if (failure !== undefined) return;
      if (r.state === 'connected') agg = new Aggregate(); // the catch-up follows
      if (r.state === 'reconnecting' && recording && !recordingDone) {
        recording.close();
        recordingDone = true;
        process.stderr.write(`exitscope: ${recording.path} ends at the disconnection\n`);
      }
      // why: the server's close reason or refusal, its own text
      process.stderr.write(r.state === 'reconnecting' ? `exitscope: disconnected (${safeText(r.why)}); reconnecting in ${r.inSeconds} s\n` : r.state === 'connected' ? `exitscope: connected to ${safeText(r.url)}\n` : '');
    },
    onMessage: (m) => {
      if (failure !== undefined) return; // stopped: frames still arriving are not shown or written
      agg.apply(m);
      if (o.output && !recordingDone) {
        try {
          recording ??= new RecordingWriter(o.output, { onFailure: fail });
        } catch (e) {
          return fail(e); // RECORDING_OPEN: thrown here it would escape the socket's event handler
        }
        recording.write(m);
        if (failure !== undefined) return;
      }
      if (m.type === 'snapshot' && !m.merged) {
        const frame = plainTop(agg, o.windowSeconds * 1000);
        process.stdout.write(tty ? `\x1b[H\x1b[2J${frame}` : `${frame}\n`);
      }
    },
  });
  await remote.start();
  // the catch-up may arrive with the welcome, before this point: a failure then is already known
  if (failure === undefined) {
    await new Promise<void>((resolve) => {
      const off = onInterrupt(() => finish());
      const timer = o.duration ? setTimeout(() => finish(), o.duration * 1000) : undefined;
      const watch = setInterval(() => {
        if (agg.ended) finish();
      }, 200);
      stopWaiting = finish;
      function finish(): void {
        off();
        if (timer) clearTimeout(timer);
        clearInterval(watch);
        resolve();
      }
    });
  }
  remote.stop();
  if (!recordingDone) recording?.close();
  if (failure !== undefined) throw failure;
  return 0;
}
