/**
 * `exitscope exporter` as a real process on the bpftrace stand-in (fake-bpftrace.mjs, path in
 * argv[2]; [ADDR:]PORT in argv[3]): the command itself, with collection started on a machine
 * that can trace (fakeCaps) instead of this one's checks. Exits with the command's status.
 */
import { exporterCommand } from '../../../src/commands/exporter.js';
import { startLiveIn } from '../../../src/commands/live.js';
import { formatUserError, isUserError } from '../../../src/errors.js';
import { fakeCaps } from './fake-caps.js';

const fake = process.argv[2] as string;
const listen = process.argv[3] as string;
try {
  process.exitCode = await exporterCommand({ interval: 1000, pid: [], reason: [], listen, metrics: {}, ...(process.env.READ_TOKEN ? { readToken: process.env.READ_TOKEN } : {}) }, (o, onMessage) => startLiveIn(o, onMessage, fakeCaps(fake), [], [], undefined));
} catch (e) {
  if (!isUserError(e)) throw e;
  process.stderr.write(`${formatUserError(e)}\n`);
  process.exitCode = 2;
}
