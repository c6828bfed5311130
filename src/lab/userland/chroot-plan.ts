/**
 * How the guest enters a userland root: the mounts, as data and in order, and the sh script that
 * makes them, chroots into the root to run the lab's script, and unmounts them again in reverse.
 *
 * The script runs in the guest, inside the host-root chroot that /init set up (src/lab/init-script.ts):
 * /proc, /sys (with tracefs, debugfs, cgroup2 under it) and /dev (with /dev/fd) are there already,
 * and the root itself is in the host's cache, which the guest sees at the same path.
 */

export type ChrootMount =
  /** A fresh filesystem of TYPE at the target. */
  | { kind: 'fs'; type: 'proc' | 'tmpfs' | 'tracefs' | 'debugfs'; target: string; why: string; onlyIfNotMounted?: boolean }
  /** The guest's SOURCE (a directory, or a file for `file: true`) at TARGET inside the root, with what is mounted below it. */
  | { kind: 'bind'; source: string; target: string; why: string; file?: boolean }
  /** A symlink the root needs where nothing made one. */
  | { kind: 'link'; to: string; target: string; why: string };

export interface ChrootPlanInput {
  /** The userland root (a host path, the same in the guest). */
  root: string;
  /** exitscope's package root (checkout or installed package): exitscope and exitscope-workload run from it. */
  packageRoot: string;
  /** Writable shares, at the same paths. */
  writable: string[];
  /** The command's working directory. */
  cwd: string;
  /** The lab's control share in the guest (scripts, bin/, status). */
  ctl: string;
  /** The host's node, bound at this path inside the root (for a suite whose nodejs is too old). */
  hostNode?: { source: string; target: string };
}

/** Is PATH equal to DIR or below it? */
function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/**
 * The mounts in the order they are made (and unmade in reverse). Directory binds below a directory
 * that is already bound are left out: the recursive bind above carries them.
 */
export function chrootPlan(i: ChrootPlanInput): ChrootMount[] {
  const plan: ChrootMount[] = [
    { kind: 'fs', type: 'proc', target: '/proc', why: 'a proc of its own: ps, /proc/self' },
    { kind: 'bind', source: '/sys', target: '/sys', why: 'sysfs with tracefs, debugfs and cgroup2 below it (recursive)' },
    { kind: 'fs', type: 'tracefs', target: '/sys/kernel/tracing', why: 'the kvm tracepoints, where /init could not mount tracefs under /sys', onlyIfNotMounted: true },
    { kind: 'fs', type: 'debugfs', target: '/sys/kernel/debug', why: 'older perf and bpftrace look for tracing here', onlyIfNotMounted: true },
    { kind: 'bind', source: '/dev', target: '/dev', why: 'devices: /dev/kvm, the serial ports, pts, shm (recursive)' },
    { kind: 'link', to: '/proc/self/fd', target: '/dev/fd', why: 'bpftrace 0.27 opens /dev/fd/N while building' },
    { kind: 'fs', type: 'tmpfs', target: '/tmp', why: 'a /tmp of its own in RAM' },
    { kind: 'bind', source: i.ctl, target: i.ctl, why: "the lab's scripts, bin/ (exitscope, exitscope-workload) and results" },
  ];
  if (i.hostNode) plan.push({ kind: 'bind', source: i.hostNode.source, target: i.hostNode.target, file: true, why: "the host's node: this suite's nodejs is older than exitscope needs" });
  const dirs: { path: string; why: string }[] = [
    { path: i.packageRoot, why: 'exitscope itself (dist/, node_modules/, the workload): the very copy that started the lab' },
    ...i.writable.map((w) => ({ path: w, why: 'a writable share' })),
    { path: i.cwd, why: 'the working directory' },
  ];
  const bound: string[] = [];
  for (const d of dirs) {
    if (d.path === '/' || bound.some((b) => within(d.path, b))) continue;
    bound.push(d.path);
    plan.push({ kind: 'bind', source: d.path, target: d.path, why: d.why });
  }
  return plan;
}

function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Exit status of the entry script when the root cannot be set up (the command never ran). */
export const USERLAND_SETUP_FAILED = 125;

/**
 * The guest's entry script for a userland: make PLAN's mounts under ROOT, run INNER (a script path
 * inside the root) with the root's /bin/sh, unmount in reverse order, exit with INNER's status.
 * Every value in it is quoted; the paths come from the host (the cache, the package, the shares).
 */
export function chrootScript(root: string, plan: ChrootMount[], inner: string, suite: string): string {
  const r = (p: string): string => shq(`${root}${p === '/' ? '' : p}`);
  const fail = (what: string): string => `fail ${shq(what)}`;
  const make: string[] = [];
  const unmake: string[] = [];
  for (const m of plan) {
    const t = r(m.target);
    if (m.kind === 'link') {
      make.push(`# ${m.why}`, `[ -e ${t} ] || [ -L ${t} ] || ln -s ${shq(m.to)} ${t} || ${fail(`ln -s ${m.to} ${m.target}`)}`);
      continue;
    }
    const prepare = m.kind === 'bind' && m.file ? `mkdir -p "$(dirname ${t})" && { [ -e ${t} ] || : > ${t}; }` : `mkdir -p ${t}`;
    const mount = m.kind === 'bind' ? `mount --rbind ${shq(m.source)} ${t}` : `mount -t ${m.type} ${m.type} ${t}`;
    const line = `${prepare} && ${mount} || ${fail(`mount ${m.kind === 'bind' ? m.source : m.type} at ${m.target}`)}`;
    make.push(`# ${m.why}`, m.kind === 'fs' && m.onlyIfNotMounted ? `mountpoint -q ${t} || { ${line}; }` : line);
    unmake.unshift(`umount -R ${t} 2>/dev/null || umount -l ${t} 2>/dev/null`);
  }
  return [
    '# written by exitscope lab (src/lab/userland/chroot-plan.ts)',
    // /init starts this with PATH=/bin (busybox's); mount, chroot and umount are the host root's
    'export PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    `fail() { echo "exitscope lab: --userland ${suite}: cannot $1 in ${root.replaceAll('"', '')}" >&2; undo; exit ${USERLAND_SETUP_FAILED}; }`,
    // Unmounting what is mounted is enough: a mount that was never made fails quietly.
    `undo() {`,
    ...unmake.map((l) => `  ${l}`),
    '  :',
    '}',
    ...make,
    `chroot ${shq(root)} /bin/sh ${shq(inner)}`,
    'status=$?',
    'undo',
    'exit $status',
    '',
  ].join('\n');
}
