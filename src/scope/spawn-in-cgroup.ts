/**
 * Starts COMMAND inside a cgroup before it runs anything: a tiny sh waits on a pipe (fd 3) while
 * exitscope writes its pid into cgroup.procs, then execs COMMAND, whose every thread and child
 * (VMs it starts included) is then born in the cgroup. The command's words reach exec as
 * positional parameters ("$@"): the shell never parses them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { UserError } from '../errors.js';
import { which } from '../lab/preflight.js';

/** Waits for "go" on fd 3; anything else (exitscope could not move it) ends it with 125, COMMAND not run. */
export const GATE_SCRIPT = 'read -r go <&3; exec 3<&-; [ "$go" = go ] || exit 125; exec "$@"';

export type ScopedChild = ResultPromise<{ stdio: ['inherit', 'inherit', 'inherit', AsyncIterable<string>]; reject: false }>;

/** What a shell would run for argv[0], or COMMAND_FAILED now (the gate would only say 127 later). */
export function checkRunnable(cmd: string): void {
  if (cmd.includes('/') || which(cmd) !== undefined) return;
  throw new UserError('COMMAND_FAILED', `could not run ${cmd}: not found on PATH`, 'check the command name and PATH');
}

/**
 * Resolves once COMMAND is in the cgroup and released, with its subprocess wrapped in an object:
 * a subprocess is a thenable, and resolving a promise with it would wait for COMMAND to end.
 */
export async function spawnInCgroup(argv: readonly string[], cgroupDir: string): Promise<{ child: ScopedChild }> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('spawnInCgroup: no command');
  checkRunnable(cmd);
  // fd 3 is fed by this generator (execa pipes it in): "go" once the move is done, nothing if it failed
  let release: (moved: boolean) => void = () => undefined;
  const moved = new Promise<boolean>((r) => (release = r));
  async function* gate(): AsyncGenerator<string> {
    if (await moved) yield 'go\n';
  }
  const child = execa('/bin/sh', ['-c', GATE_SCRIPT, 'exitscope-scope', cmd, ...args], { stdio: ['inherit', 'inherit', 'inherit', gate()], reject: false });
  try {
    if (child.pid === undefined) throw new Error('the shell did not start');
    writeFileSync(join(cgroupDir, 'cgroup.procs'), `${child.pid}\n`);
  } catch (e) {
    release(false); // EOF, no "go": the shell exits 125 without running COMMAND
    await child;
    throw new UserError('CGROUP_CREATE', `cannot move ${cmd} into the cgroup ${cgroupDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'run as root on a host where cgroup v2 is writable, or use --cgroup PATH');
  }
  release(true);
  return { child };
}
