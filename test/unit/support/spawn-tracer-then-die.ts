/**
 * Starts a long-running stand-in tracer (`sleep 600`) through spawnTracer, says `tracer PID` once it
 * runs (exec'd: setpriv has set the parent-death signal by then), then, by argv[2]:
 *   wait  - waits to be killed (the test SIGKILLs this process)
 *   exit  - process.exit(3)
 *   throw - an uncaught exception
 * NO_SETPRIV=1: spawn without the parent-death signal (only the exit hook protects).
 * VIA=dyingWithUs: a plain child_process.spawn of dyingWithUs(argv), as the labs start their emulators.
 */
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { dyingWithUs } from '../../../src/process/parent-death.js';
import { spawnTracer } from '../../../src/process/tracer-process.js';

const mode = process.argv[2];
const viaDying = (): ReturnType<typeof spawn> => {
  const [file, ...args] = dyingWithUs(['sleep', '600']);
  return spawn(file as string, args, { stdio: 'ignore' });
};
const child = process.env.VIA === 'dyingWithUs' ? viaDying() : spawnTracer('sleep', ['600'], {}, process.env.NO_SETPRIV === '1' ? '' : undefined);
const pid = child.pid as number;
const comm = (): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
while (comm() !== 'sleep') await new Promise((r) => setTimeout(r, 10));
process.stdout.write(`tracer ${pid}\n`);
if (mode === 'exit') setTimeout(() => process.exit(3), 20);
else if (mode === 'throw')
  setTimeout(() => {
    throw new Error('a bug');
  }, 20);
else setInterval(() => undefined, 1000);
