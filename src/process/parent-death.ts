/**
 * The kernel's parent-death signal for our tracers: a bpftrace whose parent
 * dies gets SIGKILL from the kernel, whatever killed the parent (even SIGKILL,
 * which no handler of ours sees). Node cannot call prctl(PR_SET_PDEATHSIG), so
 * util-linux's `setpriv --pdeathsig SIGKILL -- PROGRAM ...` sets it and execs
 * PROGRAM: same pid, and the setting survives exec for a non-setuid binary.
 *
 * Why the thread does not matter here: the signal fires when the *thread* that
 * forked the child exits. Node forks children from the main thread (libuv's
 * uv_spawn runs on the loop thread), and the main thread lives as long as the
 * process does (checked with strace: the fork is made by the main thread).
 *
 * The one gap: exitscope SIGKILLed in the instant between the fork and setpriv's
 * prctl, before bpftrace has even started.
 */
import { execFileSync } from 'node:child_process';
import type { Check } from '../probes/capabilities.js';
import { which } from '../lab/preflight.js';

export interface ParentDeathGuard {
  /** setpriv's path when it can set the parent-death signal; undefined: tracers are spawned without it. */
  setpriv: string | undefined;
  /** What doctor says about it. */
  detail: string;
}

const cache = new Map<string, ParentDeathGuard>();

/** Finds a setpriv that knows --pdeathsig (util-linux 2.33+) on PATH; asked once per PATH. */
export function parentDeathGuard(path = process.env.PATH ?? ''): ParentDeathGuard {
  const known = cache.get(path);
  if (known) return known;
  const guard = detect(path);
  cache.set(path, guard);
  return guard;
}

function detect(path: string): ParentDeathGuard {
  const setpriv = which('setpriv', path);
  if (!setpriv) return { setpriv: undefined, detail: 'setpriv not found: bpftrace may outlive exitscope if exitscope is killed with SIGKILL' };
  let help = '';
  try {
    help = execFileSync(setpriv, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  } catch {
    // an old or broken setpriv: treated as missing
  }
  if (!help.includes('--pdeathsig')) return { setpriv: undefined, detail: `${setpriv} has no --pdeathsig (util-linux older than 2.33): bpftrace may outlive exitscope if exitscope is killed with SIGKILL` };
  return { setpriv, detail: `bpftrace is started through ${setpriv} --pdeathsig SIGKILL: it dies with exitscope` };
}

/** An optional doctor check: without the guard exitscope still traces, but a SIGKILL can leave bpftrace behind. */
export function parentDeathCheck(path?: string): Check {
  const g = parentDeathGuard(path);
  return { name: 'bpftrace dies with exitscope', ok: g.setpriv !== undefined, required: false, detail: g.detail, fix: 'apt-get install util-linux (setpriv with --pdeathsig)' };
}

/**
 * ARGV run so that the program dies with this process: `setpriv --pdeathsig SIGKILL -- ARGV`
 * (setpriv execs it: same pid), or ARGV as it is where setpriv cannot. For the labs' emulators,
 * which our handlers stop on any signal we see: without it an `exitscope lab` (or a test runner)
 * SIGKILLed leaves QEMU or Bochs running, a core each, until someone notices.
 */
export function dyingWithUs(argv: readonly string[], path?: string): string[] {
  const { setpriv } = parentDeathGuard(path);
  return setpriv ? [setpriv, '--pdeathsig', 'SIGKILL', '--', ...argv] : [...argv];
}
