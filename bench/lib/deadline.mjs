// Bounds for the benchmarks' waits: a child that never exits, a message that never comes, a socket
// that never answers, a tracer that never attaches ends the wait with an error naming the step (and
// what was seen by then) after a bounded time, never a hang. The bounds are the caller's, generous:
// these machines are shared and slow, and a bound must never fail a healthy run.
import { spawnSync } from 'node:child_process';

const seconds = (ms) => `${Math.round(ms / 100) / 10} s`;
/** setTimeout's longest delay (24.8 days): a longer one would fire at once. */
const timerMs = (ms) => Math.min(ms, 2 ** 31 - 1);
const tail = (text, n = 2000) => (text ? String(text).trim().slice(-n) : '');

/** A wait that ran out of time (retryOnce tries such a step again; other failures are final). */
export class StepTimeout extends Error {}

/**
 * `promise`'s outcome, or a StepTimeout naming `step` after `ms`; `onTimeout` runs first (kill what
 * hangs), `seen()` says what had been seen by then.
 */
export function within(step, ms, promise, { seen, onTimeout } = {}) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      const what = seen?.();
      reject(new StepTimeout(`${step}: not done after ${seconds(ms)}${what ? `; seen: ${what}` : ''}`));
    }, timerMs(ms));
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** `fn()`; once more if it ran out of time (a slow moment of a shared machine), logged with `log`. */
export async function retryOnce(step, fn, log) {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof StepTimeout)) throw e;
    log(`${e.message}\n  ${step}: trying once more`);
    return await fn();
  }
}

const exited = (child) => child.exitCode !== null || child.signalCode !== null;

/** The next message of a forked child; an error if the child exits first or sends none within `ms`. */
export function nextMessage(child, step, ms) {
  if (exited(child)) return Promise.reject(new Error(`${step}: the child had exited (${child.signalCode ?? `status ${child.exitCode}`})`));
  let onMessage;
  let onExit;
  const answer = new Promise((resolve, reject) => {
    onMessage = resolve;
    onExit = (code, signal) => reject(new Error(`${step}: the child exited (${signal ?? `status ${code}`}) before it answered`));
    child.once('message', onMessage);
    child.once('exit', onExit);
  });
  return within(step, ms, answer).finally(() => {
    child.off('message', onMessage);
    child.off('exit', onExit);
  });
}

/**
 * `child`'s exit ({code, signal}); after `ms` it is SIGKILLed (said on stderr: what it was doing is
 * lost) and given 10 s more, then an error.
 */
export function exitOf(child, step, ms) {
  if (exited(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  const done = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const kill = setTimeout(() => {
    process.stderr.write(`${step}: not exited after ${seconds(ms)}: SIGKILLed\n`);
    sigkill(child);
  }, timerMs(ms));
  return within(`${step} (SIGKILLed at ${seconds(ms)}, still there)`, ms + 10_000, done).finally(() => clearTimeout(kill));
}

/** SIGKILLs `child` if it still runs (synchronous: usable in an 'exit' hook). */
export function sigkill(child) {
  if (child.pid === undefined || exited(child)) return;
  try {
    child.kill('SIGKILL');
  } catch {
    // gone already
  }
}

/**
 * spawnSync(cmd, args, options) that ends: SIGKILLed after `ms`, which throws an error naming
 * `step` with the end of what it wrote. Otherwise spawnSync's result, for the caller to judge.
 */
export function runSync(step, ms, cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { ...options, timeout: ms, killSignal: 'SIGKILL' });
  if (r.error?.code === 'ETIMEDOUT') {
    const said = [tail(r.stdout, 500), tail(r.stderr)].filter(Boolean).join('\n');
    throw new StepTimeout(`${step}: \`${[cmd, ...args].join(' ')}\` not done after ${seconds(ms)}, killed${said ? `; it wrote:\n${said}` : ''}`);
  }
  return r;
}
