/**
 * The one way exitscope starts a tracer (the collector's bpftrace, the flame
 * capture's bpftrace), so that a tracer never outlives exitscope:
 *
 * - killed from outside, even by SIGKILL: the kernel's parent-death signal
 *   (parent-death.ts) kills the tracer;
 * - our own exits without a signal (process.exit, an uncaught exception): a
 *   synchronous 'exit' hook SIGKILLs every tracer still running.
 *
 * No signal-exit (what execa's `cleanup: true` used, when tracers were started with execa): it adds its own
 * SIGINT/SIGTERM listeners and re-raises the signal (killing us with no final
 * snapshot) whenever it counts itself the only listener. Its listeners are
 * removed when a child exits and added again, *after* ours, for the next one;
 * our handler removes itself when it runs, so after a bpftrace restart
 * signal-exit saw itself alone and killed exitscope mid-stop. Signals are
 * handled in one place (commands/live.ts onInterrupt); this module only cleans up.
 *
 * Ctrl-C still reaches the tracer: it stays in our process group (the
 * collector treats bpftrace exiting on SIGINT as an interruption).
 */
import { accessSync, constants } from 'node:fs';
import { type ChildWithResult, spawnWithResult } from './child-result.js';
import { which } from '../lab/preflight.js';
import { parentDeathGuard } from './parent-death.js';

/** The tracers still running, for the exit hook. */
const running = new Set<Tracer>();
let hooked = false;

/** SIGKILLs every tracer still running. Synchronous: it runs in process.on('exit'). */
export function killRunningTracers(): void {
  for (const child of running) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** How many tracers are running (tests). */
export function runningTracers(): number {
  return running.size;
}

function findable(file: string): boolean {
  if (!file.includes('/')) return which(file) !== undefined;
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** What callers choose; the rest is fixed: no stdin, output streamed, failures as results, our own cleanup. */
export interface TracerOptions {
  env?: Record<string, string>;
  /** Aborting sends SIGTERM, then SIGKILL after forceKillAfterDelay ms. */
  cancelSignal?: AbortSignal;
  forceKillAfterDelay?: number;
}
const STDIO = ['ignore', 'pipe', 'pipe'] as const;
export type Tracer = ChildWithResult;

/**
 * Starts FILE ARGS, guarded as above; the pid is the tracer's (setpriv execs it).
 * `setprivPath` overrides the PATH searched for setpriv (tests).
 */
export function spawnTracer(file: string, args: readonly string[], options: TracerOptions = {}, setprivPath?: string): Tracer {
  if (!hooked) {
    process.on('exit', killRunningTracers);
    hooked = true;
  }
  const { setpriv } = parentDeathGuard(setprivPath);
  // A tracer that cannot be found is spawned bare: the caller sees Node's own ENOENT, not setpriv's status 127.
  const guarded = setpriv !== undefined && findable(file);
  const o = { ...options, stdio: [...STDIO] };
  const child: Tracer = guarded ? spawnWithResult(setpriv, ['--pdeathsig', 'SIGKILL', '--', file, ...args], o) : spawnWithResult(file, args, o);
  running.add(child);
  const forget = (): void => {
    running.delete(child);
  };
  // on exit; or, when it never started (spawn failed), once its result settles
  child.once('exit', forget);
  child.then(forget, forget);
  return child;
}
