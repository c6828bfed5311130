/**
 * The fresh cgroup `run --scope` puts COMMAND in: a leaf below exitscope's own cgroup (so the
 * "no internal processes" rule never bites: our own cgroup has processes, hence no controllers
 * enabled below it; and on systemd hosts it stays inside our own unit), with a name nobody can
 * guess, removed when COMMAND is done. exitscope itself stays outside it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../errors.js';
import { type CgroupFsOptions, cgroup2Root, ownCgroupPath } from './cgroup-mount.js';
import { type CgroupScope, cgroupId } from './cgroup-target.js';

export interface CreateOptions extends CgroupFsOptions {
  /** The cgroup2 mount (tests). */
  root?: string;
  /** Where to create it, relative to the mount (tests; default: our own cgroup). */
  parent?: string;
}

export function createRunCgroup(o: CreateOptions = {}): CgroupScope {
  const root = o.root ?? cgroup2Root(o);
  const parent = join(root, o.parent ?? ownCgroupPath(o));
  const dir = join(parent, `exitscope-run-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(dir); // not recursive: an existing name is an error, never shared
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UserError(
      'CGROUP_CREATE',
      `cannot create the cgroup ${dir} for --scope: ${err.code ?? err.message}`,
      err.code === 'EROFS' ? 'the cgroup filesystem is read-only here (a container?): run on the host, or give an existing cgroup with --cgroup' : 'run as root on a host where cgroup v2 is writable (in a container: give it a writable cgroup namespace), or use --cgroup PATH',
    );
  }
  return { path: dir, ids: [cgroupId(dir)], created: true };
}

/** Pids still in a cgroup (none once it is empty; [] if it is gone). */
export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export type Removal = { removed: true } | { removed: false; pids: number[]; reason: string };

/**
 * Removes the cgroup once empty. The last task of a cgroup leaves it a moment after its parent saw
 * it exit (the kernel frees it asynchronously: rmdir says EBUSY), so an empty one is retried for a
 * while; one with processes left (COMMAND's daemons) is left alone and said.
 */
export async function removeRunCgroup(scope: CgroupScope, tries = 40): Promise<Removal> {
  let last = '';
  for (let i = 0; i < tries; i++) {
    const pids = cgroupPids(scope.path);
    try {
      rmdirSync(scope.path);
      return { removed: true };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENOENT') return { removed: true };
      last = code;
      // processes left behind do not leave by waiting
      if (pids.length > 0 && i >= 3) return { removed: false, pids, reason: 'processes are still in it' };
    }
    await sleep(50);
  }
  const pids = cgroupPids(scope.path);
  return { removed: false, pids, reason: pids.length ? 'processes are still in it' : `rmdir failed: ${last}` };
}

/**
 * At a second Ctrl-C, when nothing may wait: kills what is left in the cgroup (cgroup.kill, Linux
 * 5.14+) and tries to remove it once; if its tasks have not left yet, says how to remove it later.
 */
export function leaveRunCgroup(path: string, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  try {
    writeFileSync(join(path, 'cgroup.kill'), '1\n');
  } catch {
    // older kernels: the processes were sent SIGKILL one by one (run kills COMMAND)
  }
  try {
    rmdirSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') write(`exitscope: the cgroup ${path} is left (its processes were still leaving); remove it with: rmdir ${path}`);
  }
}
