/**
 * A cgroup to count exits of (--cgroup PATH, or the one `run --scope` made): its path and the
 * cgroup v2 ids of it and of every cgroup below it, read from the filesystem (a cgroup's id is
 * its directory's inode number). Only these numbers reach the bpftrace program, never the path.
 *
 * Why the cgroups below too: the `cgroup` builtin is the thread's own (leaf) cgroup, and libvirt
 * puts a VM's vCPU threads in sub-cgroups of its machine.slice scope (.../libvirt/vcpu0).
 * Sub-cgroups made after tracing starts are not known to the program (said in the docs).
 */
import { type Dirent, existsSync, readdirSync, statfsSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { CGROUP2_SUPER_MAGIC, type CgroupFsOptions, cgroup2Root } from './cgroup-mount.js';

/** More cgroups than this below one path is not a VM or a job: refused rather than a huge predicate. */
export const MAX_CGROUP_IDS = 4096;

export interface CgroupScope {
  /** The cgroup's directory (absolute, under the cgroup2 mount). */
  path: string;
  /** Its id, then the ids of the cgroups below it (u64: decimal strings, exact). */
  ids: string[];
  /** Made by exitscope for `run --scope` (and removed after). */
  created: boolean;
}

export interface ResolveOptions extends CgroupFsOptions {
  /** The cgroup2 mount (tests; default: from /proc/self/mountinfo). */
  root?: string;
  /** statfs f_type of a path (tests; default: statfsSync). */
  fsType?: (path: string) => number;
}

const realFsType = (p: string): number => statfsSync(p).type;

/** The cgroup v2 id of a cgroup directory: its inode number (kernfs node id), exactly. */
export function cgroupId(dir: string): string {
  return statSync(dir, { bigint: true }).ino.toString();
}

/**
 * PATH as given: a directory on the cgroup2 mount (/sys/fs/cgroup/machine.slice/...), or a path
 * relative to the mount, with or without a leading slash (machine.slice/..., as /proc/PID/cgroup
 * and systemd-cgls show them).
 */
export function cgroupDirectory(spec: string, root: string): string {
  if (spec.trim() === '') throw new UserError('CGROUP_NOT_FOUND', '--cgroup needs a path', 'e.g. --cgroup machine.slice/machine-qemu\\x2d1\\x2dvm1.scope (see systemd-cgls, or /proc/PID/cgroup)');
  const underRoot = (p: string): boolean => {
    const r = relative(root, p);
    return r === '' || (!r.startsWith('..') && !isAbsolute(r));
  };
  if (isAbsolute(spec) && underRoot(resolve(spec)) && existsSync(spec)) return resolve(spec);
  const joined = resolve(root, `.${isAbsolute(spec) ? spec : `/${spec}`}`);
  // "../.." cannot climb out of the mount to some other directory
  if (!underRoot(joined)) throw new UserError('CGROUP_NOT_FOUND', `${spec} is not under the cgroup v2 mount ${root}`, `give a path under ${root}, or relative to it`);
  return joined;
}

export function resolveCgroup(spec: string, o: ResolveOptions = {}): CgroupScope {
  const root = o.root ?? cgroup2Root(o);
  const dir = cgroupDirectory(spec, root);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // missing: said below
  }
  if (!isDir) throw new UserError('CGROUP_NOT_FOUND', `no cgroup ${dir}`, `list them with systemd-cgls or ls ${root}; a VM's is in /proc/PID/cgroup (libvirt: machine.slice/machine-qemu...scope)`);
  if ((o.fsType ?? realFsType)(dir) !== CGROUP2_SUPER_MAGIC || !existsSync(join(dir, 'cgroup.procs')))
    throw new UserError('CGROUP_NOT_FOUND', `${dir} is not a cgroup v2 directory`, `give a cgroup under the cgroup v2 mount ${root}`);
  return { path: dir, ids: subtreeIds(dir), created: false };
}

/** The ids of a cgroup and every cgroup below it, breadth first (the cgroup's own first). */
export function subtreeIds(dir: string): string[] {
  const ids: string[] = [];
  const queue = [dir];
  while (queue.length) {
    const d = queue.shift() as string;
    let id: string;
    let entries: Dirent[];
    try {
      id = cgroupId(d);
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue; // removed while we walked: nothing to count there
    }
    ids.push(id);
    if (ids.length > MAX_CGROUP_IDS)
      throw new UserError('CGROUP_TOO_MANY', `more than ${MAX_CGROUP_IDS} cgroups under ${dir}`, 'give the cgroup of one VM or job (its scope), not a whole slice');
    // cgroupfs has no symlinks: every directory is a child cgroup
    for (const e of entries) if (e.isDirectory()) queue.push(join(d, e.name));
  }
  if (ids.length === 0) throw new UserError('CGROUP_NOT_FOUND', `no cgroup ${dir}`, 'it was removed: give a cgroup that exists');
  return ids;
}
