/** `exitscope top --plain [--once]`: a refreshing text table (the Ink dashboard comes later). */
import { plainTop } from '../views/plain-top.js';
import { type LiveOptions, startLive, waitForEnd } from './live.js';

export async function topPlainCommand(o: LiveOptions & { once: boolean; windowSeconds: number; duration?: number }): Promise<number> {
  const tty = process.stdout.isTTY === true;
  let shown = 0;
  const live = await startLive(o, (m) => {
    if (m.type !== 'snapshot' || m.seq === 0) return; // the first interval is partial
    if (o.once && shown > 0) return;
    shown++;
    const frame = plainTop(live.agg, o.windowSeconds * 1000);
    process.stdout.write(tty ? `\x1b[H\x1b[2J${frame}` : `${frame}\n`);
  });
  if (o.once) {
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (shown > 0 || live.agg.ended) {
          clearInterval(check);
          resolve();
        }
      }, 50);
    });
  } else await waitForEnd(live, o.duration);
  await live.stop();
  return 0;
}
