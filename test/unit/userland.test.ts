/**
 * `exitscope lab --userland SUITE`: the suites table, debootstrap's argv and the cache key, the
 * build into the cache (with a stand-in debootstrap), and the chroot plan and its script, run
 * here with stand-ins for mount, umount, mountpoint and chroot that log what they are asked.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { chrootPlan, chrootScript, USERLAND_SETUP_FAILED } from '../../src/lab/userland/chroot-plan.js';
import { DEFAULT_MIRROR as DEFAULT_DEBIAN_MIRROR } from '../../src/lab/kernels/sources-list.js';
import { debianMirror, debootstrapError, ensureUserland, planDebootstrap, userlandKey } from '../../src/lab/userland/debootstrap.js';
import { findSuite, HOST_NODE_IN_USERLAND, USERLAND_BASE_PACKAGES, USERLAND_SUITES, userlandNode, userlandPackages } from '../../src/lab/userland/suites.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/userland');
const suite = (name: string) => {
  const s = findSuite(name);
  if (!s) throw new Error(`no suite ${name}`);
  return s;
};

describe('the suites table', () => {
  it.each(USERLAND_SUITES.map((s) => [s.name, s] as const))('%s: packages and node agree with its node choice', (_name, s) => {
    const packages = userlandPackages(s);
    for (const p of USERLAND_BASE_PACKAGES) expect(packages).toContain(p);
    expect(packages.includes('nodejs')).toBe(s.node === 'suite');
    expect(userlandNode(s)).toBe(s.node === 'host' ? HOST_NODE_IN_USERLAND : '/usr/bin/node');
    expect(packages).toEqual([...packages].sort());
    expect(s.release.length).toBeGreaterThan(0);
    expect(s.ships).toMatch(/bpftrace \d/);
  });

  it('has the suites the issue names, and only those', () => {
    expect(USERLAND_SUITES.map((s) => s.name)).toEqual(['bookworm', 'trixie', 'sid']);
    expect(findSuite('bullseye')).toBeUndefined();
  });
});

describe('debootstrap', () => {
  it('is asked for a minbase root of the suite with its packages, from the mirror, into a temporary directory', () => {
    const plan = planDebootstrap(suite('trixie'), '/c', 'http://m/debian', 42);
    const key = userlandKey(suite('trixie'));
    expect(plan.target).toBe(`/c/userlands/${key}`);
    expect(plan.building).toBe(`/c/userlands/.building-${key}-42`);
    expect(plan.argv).toEqual([
      '--variant=minbase',
      '--arch=amd64',
      '--components=main',
      '--include=bpftrace,iproute2,linux-perf,nodejs,procps,util-linux',
      '--cache-dir=/c/userlands/debs',
      'trixie',
      `/c/userlands/.building-${key}-42`,
      'http://m/debian',
    ]);
  });

  it('bookworm gets no nodejs (18 is too old): the host node runs exitscope there', () => {
    expect(planDebootstrap(suite('bookworm'), '/c', 'http://m', 1).argv).toContain('--include=bpftrace,iproute2,linux-perf,procps,util-linux');
  });

  it('keys the cache by suite and recipe: stable, different per suite, not by mirror', () => {
    const keys = USERLAND_SUITES.map((s) => userlandKey(s));
    expect(new Set(keys).size).toBe(keys.length);
    for (const [i, s] of USERLAND_SUITES.entries()) {
      expect(keys[i]).toMatch(new RegExp(`^${s.name}-[0-9a-f]{12}$`));
      expect(userlandKey(s)).toBe(keys[i]);
    }
    expect(planDebootstrap(suite('sid'), '/c', 'http://a', 1).target).toBe(planDebootstrap(suite('sid'), '/c', 'http://b', 1).target);
    // a recipe with other packages is another root
    expect(userlandKey({ ...suite('sid'), node: 'host' })).not.toBe(userlandKey(suite('sid')));
  });

  it('takes the mirror from EXITSCOPE_DEBIAN_MIRROR, else deb.debian.org (as --kernel debian:SUITE does)', () => {
    expect(debianMirror({})).toBe(DEFAULT_DEBIAN_MIRROR);
    expect(debianMirror({ EXITSCOPE_DEBIAN_MIRROR: '' })).toBe(DEFAULT_DEBIAN_MIRROR);
    expect(debianMirror({ EXITSCOPE_DEBIAN_MIRROR: 'http://local/debian' })).toBe('http://local/debian');
    expect(() => debianMirror({ EXITSCOPE_DEBIAN_MIRROR: 'http://x/ y' })).toThrow(/not an http\(s\) URL/);
  });

  it('an unreachable mirror (debootstrap\'s real output) is USERLAND_MIRROR, naming the mirror and how to check it', () => {
    const out = readFileSync(join(FIXTURES, 'mirror-unreachable.out'), 'utf8');
    const plan = planDebootstrap(suite('trixie'), '/c', 'http://127.0.0.1:9/debian', 1);
    const e = debootstrapError(plan, 1, out, '');
    expect(e.code).toBe('USERLAND_MIRROR');
    expect(e.message).toContain('http://127.0.0.1:9/debian');
    expect(e.message).toContain('Failed getting release file');
    expect(e.fix).toContain('EXITSCOPE_DEBIAN_MIRROR');
  });

  it('any other failure is USERLAND_BUILD_FAILED with debootstrap\'s last lines and its log', () => {
    const plan = planDebootstrap(suite('sid'), '/c', 'http://m', 1);
    const e = debootstrapError(plan, 1, 'I: Configuring x\nW: Failure while configuring base packages.', '');
    expect(e.code).toBe('USERLAND_BUILD_FAILED');
    expect(e.message).toContain('Failure while configuring');
    expect(e.fix).toContain('/c/userlands/sid-debootstrap.log');
  });
});

/** A stand-in debootstrap: logs its argv, then fails or makes a root with usr/bin, as told. */
function fakeDebootstrap(dir: string, behaviour: 'ok' | 'mirror'): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const script =
    behaviour === 'ok'
      ? `#!/bin/sh\necho "$@" >> ${dir}/calls\nfor a; do t=$p; p=$a; done\necho 'I: Retrieving Release'\nmkdir -p "$t/usr/bin" "$t/debootstrap"\nexit 0\n`
      : `#!/bin/sh\necho "$@" >> ${dir}/calls\ncat ${join(FIXTURES, 'mirror-unreachable.out')}\nexit 1\n`;
  writeFileSync(join(bin, 'debootstrap'), script);
  chmodSync(join(bin, 'debootstrap'), 0o755);
  return bin;
}

describe('ensureUserland', () => {
  it('builds once into a temporary directory renamed into place, then reuses it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'userland-'));
    const path = `${fakeDebootstrap(dir, 'ok')}:/usr/bin:/bin`;
    const lines: string[] = [];
    const first = await ensureUserland(suite('trixie'), { cache: join(dir, 'cache'), progress: (l) => lines.push(l), path });
    expect(first.reused).toBe(false);
    expect(first.root).toBe(planDebootstrap(suite('trixie'), join(dir, 'cache'), 'x').target);
    expect(existsSync(join(first.root, 'usr/bin'))).toBe(true);
    expect(lines[0]).toMatch(/^userland trixie: building with debootstrap/);
    expect(lines).toContain('  debootstrap: I: Retrieving Release');
    const second = await ensureUserland(suite('trixie'), { cache: join(dir, 'cache'), progress: () => undefined, path });
    expect(second).toEqual({ root: first.root, reused: true });
    expect(readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('a failed build leaves no root in the cache, keeps the log, and says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'userland-'));
    const cache = join(dir, 'cache');
    const e = await ensureUserland(suite('sid'), { cache, progress: () => undefined, path: `${fakeDebootstrap(dir, 'mirror')}:/usr/bin:/bin`, mirror: 'http://127.0.0.1:9/debian' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe('USERLAND_MIRROR');
    expect(existsSync(planDebootstrap(suite('sid'), cache, 'x').target)).toBe(false);
    expect(readFileSync(join(cache, 'userlands', 'sid-debootstrap.log'), 'utf8')).toContain('Failed getting release file');
  });

  it('without debootstrap: USERLAND_NO_DEBOOTSTRAP, fix apt-get install debootstrap', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'userland-'));
    const e = await ensureUserland(suite('sid'), { cache: dir, progress: () => undefined, path: join(dir, 'empty') }).catch((x: unknown) => x);
    expect((e as UserError).code).toBe('USERLAND_NO_DEBOOTSTRAP');
    expect((e as UserError).fix).toBe('apt-get install debootstrap');
  });
});

describe('the chroot plan', () => {
  const input = { root: '/cache/userlands/sid-x', packageRoot: '/src/exitscope', writable: ['/tmp/out', '/src/exitscope/reports'], cwd: '/src/exitscope', ctl: '/run/exitscope-lab' };

  it('mounts proc, sys (+tracefs, debugfs), dev (+/dev/fd), tmp, then the ctl share, the package, the shares and the cwd, in that order', () => {
    expect(chrootPlan(input).map((m) => `${m.kind}:${m.kind === 'fs' ? m.type : m.kind === 'link' ? m.to : m.source}->${m.target}`)).toEqual([
      'fs:proc->/proc',
      'bind:/sys->/sys',
      'fs:tracefs->/sys/kernel/tracing',
      'fs:debugfs->/sys/kernel/debug',
      'bind:/dev->/dev',
      'link:/proc/self/fd->/dev/fd',
      'fs:tmpfs->/tmp',
      'bind:/run/exitscope-lab->/run/exitscope-lab',
      'bind:/src/exitscope->/src/exitscope',
      // /tmp/out comes after the tmpfs on /tmp, or the tmpfs would hide it
      'bind:/tmp/out->/tmp/out',
      // /src/exitscope/reports and the cwd are inside the package's recursive bind: not bound twice
    ]);
  });

  it('binds a cwd outside the others, and the host node for a suite that needs it', () => {
    const plan = chrootPlan({ ...input, writable: [], cwd: '/home/me/vm', hostNode: { source: '/usr/bin/node', target: HOST_NODE_IN_USERLAND } });
    expect(plan.filter((m) => m.kind === 'bind').map((m) => m.target)).toEqual(['/sys', '/dev', '/run/exitscope-lab', HOST_NODE_IN_USERLAND, '/src/exitscope', '/home/me/vm']);
    expect(plan.find((m) => m.target === HOST_NODE_IN_USERLAND)).toMatchObject({ kind: 'bind', file: true, source: '/usr/bin/node' });
  });

  it('never binds the whole host root over the userland', () => {
    expect(chrootPlan({ ...input, cwd: '/', writable: ['/'] }).some((m) => m.target === '/')).toBe(false);
  });
});

/**
 * Runs the plan's script with stand-ins on PATH: each logs its argv to LOG; `mount` fails for a
 * target containing FAIL_ON; `mountpoint` says "not mounted"; `chroot` exits with CHROOT_STATUS.
 */
function runScript(plan: ReturnType<typeof chrootPlan>, root: string, env: Record<string, string> = {}): { status: number | null; log: string[]; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'chroot-script-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const log = join(dir, 'log');
  const stand = (name: string, body: string): void => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${log}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  stand('mount', 'case "$*" in *"${FAIL_ON:-@@}"*) exit 32;; esac; exit 0');
  stand('umount', 'exit 0');
  stand('mountpoint', 'exit 1');
  stand('chroot', 'exit ${CHROOT_STATUS:-0}');
  const script = chrootScript(root, plan, '/run/exitscope-lab/userland-run.sh', 'sid').replace(/^export PATH=.*$/m, `export PATH=${bin}:/usr/bin:/bin`);
  const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env } });
  return { status: r.status, log: existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [], stderr: r.stderr };
}

describe('the chroot script', () => {
  it('mounts in order, runs the lab script in the root, unmounts in reverse, and exits with its status', () => {
    const root = mkdtempSync(join(tmpdir(), "user land's root-"));
    const plan = chrootPlan({ root, packageRoot: '/src/exitscope', writable: [], cwd: '/src/exitscope', ctl: '/run/exitscope-lab', hostNode: { source: '/usr/bin/node', target: HOST_NODE_IN_USERLAND } });
    const r = runScript(plan, root, { CHROOT_STATUS: '7' });
    expect(r.status).toBe(7);
    const mounts = [
      `mount -t proc proc ${root}/proc`,
      `mount --rbind /sys ${root}/sys`,
      `mountpoint -q ${root}/sys/kernel/tracing`,
      `mount -t tracefs tracefs ${root}/sys/kernel/tracing`,
      `mountpoint -q ${root}/sys/kernel/debug`,
      `mount -t debugfs debugfs ${root}/sys/kernel/debug`,
      `mount --rbind /dev ${root}/dev`,
      `mount -t tmpfs tmpfs ${root}/tmp`,
      `mount --rbind /run/exitscope-lab ${root}/run/exitscope-lab`,
      `mount --rbind /usr/bin/node ${root}${HOST_NODE_IN_USERLAND}`,
      `mount --rbind /src/exitscope ${root}/src/exitscope`,
    ];
    const targets = ['/proc', '/sys', '/sys/kernel/tracing', '/sys/kernel/debug', '/dev', '/tmp', '/run/exitscope-lab', HOST_NODE_IN_USERLAND, '/src/exitscope'];
    expect(r.log).toEqual([...mounts, `chroot ${root} /bin/sh /run/exitscope-lab/userland-run.sh`, ...targets.reverse().map((t) => `umount -R ${root}${t}`)]);
    // the stand-in mount mounted nothing, so the link went into the root's own /dev
    expect(readlinkSync(join(root, 'dev/fd'))).toBe('/proc/self/fd');
    // the file bind got a file to mount on
    expect(existsSync(join(root, HOST_NODE_IN_USERLAND))).toBe(true);
  });

  it('a mount that fails stops before the command: status 125, a message, and what was mounted is unmounted', () => {
    const root = mkdtempSync(join(tmpdir(), 'userland-root-'));
    const plan = chrootPlan({ root, packageRoot: '/src/exitscope', writable: [], cwd: '/src/exitscope', ctl: '/run/exitscope-lab' });
    const r = runScript(plan, root, { FAIL_ON: `${root}/dev` });
    expect(r.status).toBe(USERLAND_SETUP_FAILED);
    expect(r.stderr).toContain('--userland sid: cannot mount /dev at /dev');
    expect(r.log.some((l) => l.startsWith('chroot'))).toBe(false);
    expect(r.log.filter((l) => l.startsWith('umount')).length).toBe(plan.filter((m) => m.kind !== 'link').length);
  });
});
