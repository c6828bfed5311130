/**
 * Where cgroup v2 is mounted. Scoping counts exits by the vCPU thread's cgroup v2 id (bpftrace's
 * `cgroup` builtin, the kernel's bpf_get_current_cgroup_id): without a cgroup2 mount there is no
 * path to resolve an id from, nor a place to create a cgroup for `run --scope`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';

/** statfs f_type of a cgroup v2 filesystem (include/uapi/linux/magic.h). */
export const CGROUP2_SUPER_MAGIC = 0x63677270;

/** /proc/self/mountinfo escapes space, tab, newline and backslash in paths as \ooo. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/**
 * The cgroup2 mount points in a mountinfo text, /sys/fs/cgroup first when it is one (the unified
 * layout of systemd hosts); a hybrid host has it at /sys/fs/cgroup/unified.
 */
export function cgroup2Mounts(mountinfo: string): string[] {
  const found: string[] = [];
  for (const line of mountinfo.split('\n')) {
    // "36 25 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw": the type follows the " - "
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fsType = line.slice(sep + 3).split(' ')[0];
    const mountPoint = line.slice(0, sep).split(' ')[4];
    if (fsType === 'cgroup2' && mountPoint) found.push(unescapeMountPath(mountPoint));
  }
  return found.sort((a, b) => Number(b === '/sys/fs/cgroup') - Number(a === '/sys/fs/cgroup'));
}

export interface CgroupFsOptions {
  /** Root of /proc (tests). */
  proc?: string;
}

/** The cgroup2 mount point, or NO_CGROUP2. */
export function cgroup2Root(o: CgroupFsOptions = {}): string {
  let text = '';
  try {
    text = readFileSync(join(o.proc ?? '/proc', 'self/mountinfo'), 'utf8');
  } catch {
    // no /proc: no mount is known either
  }
  const root = cgroup2Mounts(text)[0];
  if (root === undefined)
    throw new UserError(
      'NO_CGROUP2',
      'cgroup v2 is not mounted: exits are attributed by the cgroup v2 id of the vCPU thread',
      'mount it (mount -t cgroup2 none /sys/fs/cgroup), or boot with systemd.unified_cgroup_hierarchy=1 (the default on current distributions)',
    );
  return root;
}

/** This process's own cgroup v2 path ("0::/user.slice/..." in /proc/self/cgroup), relative to the mount. */
export function ownCgroupPath(o: CgroupFsOptions = {}): string {
  let text = '';
  try {
    text = readFileSync(join(o.proc ?? '/proc', 'self/cgroup'), 'utf8');
  } catch {
    return '/';
  }
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  const path = line?.slice(3) ?? '/';
  // "(deleted)" or a path outside our cgroup namespace ("/../..") is no place to create in
  return path.startsWith('/') && !path.includes('/..') && !path.endsWith(' (deleted)') ? path : '/';
}
