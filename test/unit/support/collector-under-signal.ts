/**
 * `exitscope record` in miniature, for signal tests: a Collector on the bpftrace stand-in
 * (fake-bpftrace.mjs, path in argv[2]), our signal handler (waitForEnd), and bpftrace killed
 * RESTARTS times first (each restart waited for). Prints every message as a JSON line, then
 * `ready` once the restarts are done; a test then signals this process. Exits through our
 * handler: `stopped: interrupt`, the final snapshot and the end.
 */
import { Collector } from '../../../src/collector/collector.js';
import { type Live, waitForEnd } from '../../../src/commands/live.js';
import { Aggregate } from '../../../src/model/aggregate.js';
import type { Message } from '../../../src/protocol/messages.js';
import { fakeCaps } from './fake-caps.js';

const fake = process.argv[2] as string;
const restarts = Number(process.env.RESTARTS ?? '0');
const caps = fakeCaps(fake);
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const agg = new Aggregate();
const messages: Message[] = [];
const collector = new Collector({
  caps,
  intervalMs: 1000,
  maxRestarts: restarts + 2,
  proc: '/nonexistent',
  onMessage: (m) => {
    messages.push(m);
    agg.apply(m);
    say(JSON.stringify(m));
  },
});
await collector.start();
let stopped: Promise<void> | undefined;
const live = { collector, agg, stop: () => (stopped ??= collector.stop()) } as unknown as Live;
const ended = waitForEnd(live, undefined);
const gaps = (): number => messages.filter((m) => m.type === 'gap').length;
for (let i = 0; i < restarts; i++) {
  process.kill(collector.bpftracePid as number, 'SIGKILL');
  while (gaps() <= i) await new Promise((r) => setTimeout(r, 20));
}
say(`ready ${collector.bpftracePid}`);
say(`stopped: ${await ended}`);
await live.stop();
say('done');
