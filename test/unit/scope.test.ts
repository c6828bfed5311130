import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { buildFlameProgram } from '../../src/flame/program.js';
import { Aggregate } from '../../src/model/aggregate.js';
import { buildProgram, checkCgroupId } from '../../src/probes/program.js';
import { Hello, Message } from '../../src/protocol/messages.js';
import { formatReport } from '../../src/report/format.js';
import { buildReport } from '../../src/report/report.js';
import { CGROUP2_SUPER_MAGIC, cgroup2Mounts, cgroup2Root, ownCgroupPath } from '../../src/scope/cgroup-mount.js';
import { MAX_CGROUP_IDS, cgroupDirectory, resolveCgroup } from '../../src/scope/cgroup-target.js';
import { checkCgroupFilter } from '../../src/scope/filter-support.js';
import { removalNotice } from '../../src/scope/removal-notice.js';
import { createRunCgroup, removeRunCgroup } from '../../src/scope/run-cgroup.js';
import { plainTop } from '../../src/views/plain-top.js';
import { GATE_SCRIPT, spawnInCgroup } from '../../src/scope/spawn-in-cgroup.js';
import { codeOf } from './support/user-error-code.js';

const tmp = (p: string): string => mkdtempSync(join(tmpdir(), p));
const ino = (p: string): string => statSync(p, { bigint: true }).ino.toString();
const asCgroup2 = (): number => CGROUP2_SUPER_MAGIC;


/** A /proc with the given mountinfo and cgroup files. */
function fakeProc(mountinfo: string, cgroup = '0::/\n'): string {
  const proc = tmp('scope-proc-');
  mkdirSync(join(proc, 'self'));
  writeFileSync(join(proc, 'self/mountinfo'), mountinfo);
  writeFileSync(join(proc, 'self/cgroup'), cgroup);
  return proc;
}

// real lines: a unified host (Debian 12), a hybrid one (cgroup v1 + unified), a v1-only one
const UNIFIED = '25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw\n31 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
const HYBRID = '30 25 0:25 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n41 30 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n42 30 0:39 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n';
const V1_ONLY = '30 25 0:25 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n42 30 0:39 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n';

describe('where cgroup v2 is mounted', () => {
  it('finds the cgroup2 mount on unified and hybrid hosts, /sys/fs/cgroup first', () => {
    expect(cgroup2Mounts(UNIFIED)).toEqual(['/sys/fs/cgroup']);
    expect(cgroup2Mounts(HYBRID)).toEqual(['/sys/fs/cgroup/unified']);
    expect(cgroup2Mounts(`41 30 0:38 / /mnt/cg2 rw - cgroup2 none rw\n${UNIFIED}`)).toEqual(['/sys/fs/cgroup', '/mnt/cg2']);
    expect(cgroup2Mounts('41 30 0:38 / /mnt/my\\040cgroups rw - cgroup2 none rw\n')).toEqual(['/mnt/my cgroups']);
  });

  it('NO_CGROUP2 on a v1-only host or without /proc, with the kernel option in the fix', () => {
    expect(cgroup2Root({ proc: fakeProc(UNIFIED) })).toBe('/sys/fs/cgroup');
    for (const proc of [fakeProc(V1_ONLY), '/no/such/proc']) {
      try {
        cgroup2Root({ proc });
        expect.unreachable();
      } catch (e) {
        expect((e as UserError).code).toBe('NO_CGROUP2');
        expect((e as UserError).fix).toContain('systemd.unified_cgroup_hierarchy=1');
      }
    }
  });

  it("reads our own cgroup from the 0:: line; a path outside our namespace is no place to create in", () => {
    expect(ownCgroupPath({ proc: fakeProc(UNIFIED, '0::/user.slice/user-0.slice/session-3.scope\n') })).toBe('/user.slice/user-0.slice/session-3.scope');
    expect(ownCgroupPath({ proc: fakeProc(HYBRID, '4:memory:/x\n1:name=systemd:/y\n0::/ci/job-7\n') })).toBe('/ci/job-7');
    expect(ownCgroupPath({ proc: fakeProc(UNIFIED, '0::/../../elsewhere\n') })).toBe('/');
    expect(ownCgroupPath({ proc: fakeProc(UNIFIED, '0::/gone (deleted)\n') })).toBe('/');
  });
});

describe('--cgroup PATH', () => {
  const root = tmp('scope-root-');
  const vm = join(root, 'machine.slice', 'machine-qemu\\x2d1\\x2dweb.scope');
  for (const d of ['libvirt/vcpu0', 'libvirt/vcpu1', 'libvirt/emulator']) mkdirSync(join(vm, d), { recursive: true });
  for (const d of [vm, join(vm, 'libvirt'), join(vm, 'libvirt/vcpu0'), join(vm, 'libvirt/vcpu1'), join(vm, 'libvirt/emulator')]) writeFileSync(join(d, 'cgroup.procs'), '');

  it('takes a path on the mount, relative to it, or with a leading slash (as /proc/PID/cgroup shows it)', () => {
    const rel = 'machine.slice/machine-qemu\\x2d1\\x2dweb.scope';
    expect(cgroupDirectory(vm, root)).toBe(vm);
    expect(cgroupDirectory(rel, root)).toBe(vm);
    expect(cgroupDirectory(`/${rel}`, root)).toBe(vm);
  });

  it('never climbs out of the mount', () => {
    expect(codeOf(() => cgroupDirectory('../../etc', root))).toBe('CGROUP_NOT_FOUND');
    expect(codeOf(() => cgroupDirectory('/../../etc', root))).toBe('CGROUP_NOT_FOUND');
    expect(codeOf(() => cgroupDirectory('', root))).toBe('CGROUP_NOT_FOUND');
  });

  it("resolves to the cgroup's id and its sub-cgroups' ids: the directories' inode numbers, the cgroup's own first", () => {
    const s = resolveCgroup('machine.slice/machine-qemu\\x2d1\\x2dweb.scope', { root, fsType: asCgroup2 });
    expect(s.path).toBe(vm);
    expect(s.created).toBe(false);
    expect(s.ids[0]).toBe(ino(vm));
    expect(new Set(s.ids)).toEqual(new Set([vm, join(vm, 'libvirt'), join(vm, 'libvirt/vcpu0'), join(vm, 'libvirt/vcpu1'), join(vm, 'libvirt/emulator')].map(ino)));
  });

  it('CGROUP_NOT_FOUND when missing, a file, or not on a cgroup v2 filesystem', () => {
    expect(codeOf(() => resolveCgroup('machine.slice/nope.scope', { root, fsType: asCgroup2 }))).toBe('CGROUP_NOT_FOUND');
    expect(codeOf(() => resolveCgroup(join(vm, 'cgroup.procs'), { root, fsType: asCgroup2 }))).toBe('CGROUP_NOT_FOUND');
    // the real statfs of a temporary directory: not cgroup2
    expect(codeOf(() => resolveCgroup(vm, { root }))).toBe('CGROUP_NOT_FOUND');
    // a plain directory without cgroup.procs is not a cgroup either
    mkdirSync(join(root, 'plain'));
    expect(codeOf(() => resolveCgroup('plain', { root, fsType: asCgroup2 }))).toBe('CGROUP_NOT_FOUND');
  });

  it(`CGROUP_TOO_MANY beyond ${MAX_CGROUP_IDS} cgroups below one path`, () => {
    const big = tmp('scope-big-');
    writeFileSync(join(big, 'cgroup.procs'), '');
    for (let i = 0; i < MAX_CGROUP_IDS; i++) mkdirSync(join(big, `c${i}`));
    expect(codeOf(() => resolveCgroup(big, { root: big, fsType: asCgroup2 }))).toBe('CGROUP_TOO_MANY');
  });

  it('a hostile path never reaches the program: only the numbers do', () => {
    const name = 'x" } END { system("id") } //';
    const dir = join(root, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'cgroup.procs'), '');
    const s = resolveCgroup(name, { root, fsType: asCgroup2 });
    const text = buildProgram({ intervalMs: 1000, latency: true, pageFaults: true, handlers: ['kvm_tdp_page_fault'], cgroupIds: s.ids }).text;
    expect(text).not.toContain('system');
    expect(text).toContain(`cgroup == ${ino(dir)}`);
    expect(buildFlameProgram({ hz: 99, durationMs: 3000, reasons: true, userStacks: true, cgroupIds: s.ids })).not.toContain('system');
  });
});

describe('the filter in the programs', () => {
  const ALL = { intervalMs: 1000, latency: true, pageFaults: true, handlers: ['kvm_tdp_page_fault'], detailPerInterval: 5 } as const;

  it('filters every probe that starts counting: kvm_exit (counts, detail), page faults, handler kprobes', () => {
    const { text } = buildProgram({ ...ALL, cgroupIds: ['4242', '18446744073709551615'], pids: [7], reasons: [123] });
    const cg = '(cgroup == 4242 || cgroup == 18446744073709551615)';
    expect(text).toContain(`tracepoint:kvm:kvm_exit /(pid == 7) && ${cg} && (args->exit_reason == 123)/`);
    expect(text).toContain(`tracepoint:kvm:kvm_exit /(pid == 7) && ${cg} && (args->exit_reason == 123) && (@detail_sent < 5)/`);
    expect(text).toContain(`tracepoint:kvm:kvm_page_fault /(pid == 7) && ${cg}/`);
    expect(text).toContain(`kprobe:kvm_tdp_page_fault /(pid == 7) && ${cg}/`);
    // kvm_entry and the kretprobes only finish what a filtered probe started
    expect(text).toContain('tracepoint:kvm:kvm_entry\n');
    expect(text).toContain('kretprobe:kvm_tdp_page_fault /@h0_start[tid]/');
  });

  it('no filter without ids', () => {
    expect(buildProgram(ALL).text).not.toContain('cgroup');
    expect(buildFlameProgram({ hz: 99, durationMs: 3000, reasons: true, userStacks: false })).not.toContain('cgroup');
  });

  it('the flame program filters the exit that gives a thread its state (nothing else samples)', () => {
    const t = buildFlameProgram({ hz: 99, durationMs: 3000, reasons: true, userStacks: false, pids: [12], cgroupIds: ['99'] });
    expect(t).toContain('tracepoint:kvm:kvm_exit /(pid == 12) && (cgroup == 99)/');
    expect(buildFlameProgram({ hz: 99, durationMs: 3000, reasons: true, userStacks: false, cgroupIds: ['99', '100'] })).toContain('tracepoint:kvm:kvm_exit /cgroup == 99 || cgroup == 100/');
  });

  it.each(['0', '-1', '1e3', ' 12', '12 ', '0x10', '18446744073709551616', '1; system("id")', '12 || 1', ''])('refuses the id %j', (bad) => {
    expect(() => checkCgroupId(bad)).toThrow(RangeError);
    expect(() => buildProgram({ ...ALL, cgroupIds: [bad] })).toThrow(RangeError);
    expect(() => buildFlameProgram({ hz: 99, durationMs: 3000, reasons: true, userStacks: false, cgroupIds: [bad] })).toThrow(RangeError);
  });

  it('refuses an id that is not a string (a number may have lost digits)', () => {
    expect(() => buildProgram({ ...ALL, cgroupIds: [12 as unknown as string] })).toThrow(RangeError);
  });
});

describe('what bpftrace and the kernel can filter', () => {
  const v = (major: number, minor: number) => ({ path: '/usr/bin/bpftrace', version: `${major}.${minor}.0`, major, minor });
  it('bpftrace 0.9+ on Linux 4.18+', () => {
    expect(() => checkCgroupFilter({ bpftrace: v(0, 17), kernel: '6.1.0-56-amd64' })).not.toThrow();
    expect(() => checkCgroupFilter({ bpftrace: v(0, 9), kernel: '4.18.0' })).not.toThrow();
    expect(() => checkCgroupFilter({ bpftrace: v(1, 0), kernel: '5.4.0' })).not.toThrow();
    expect(codeOf(() => checkCgroupFilter({ bpftrace: v(0, 8), kernel: '6.1.0' }))).toBe('BPFTRACE_NO_CGROUP');
    expect(codeOf(() => checkCgroupFilter({ bpftrace: v(0, 17), kernel: '4.15.0-20-generic' }))).toBe('BPFTRACE_NO_CGROUP');
  });
});

describe('run --scope: its cgroup', () => {
  it('is a fresh leaf with an unguessable name under the given parent; two runs never share one', () => {
    const root = tmp('scope-run-');
    mkdirSync(join(root, 'ci'));
    const a = createRunCgroup({ root, parent: '/ci' });
    const b = createRunCgroup({ root, parent: '/ci' });
    expect(a.path).toMatch(new RegExp(`^${root}/ci/exitscope-run-${process.pid}-[0-9a-f]{8}$`));
    expect(a.path).not.toBe(b.path);
    expect(a.created).toBe(true);
    expect(a.ids).toEqual([ino(a.path)]);
  });

  it('CGROUP_CREATE when it cannot be made, with a fix', () => {
    const root = tmp('scope-run-');
    writeFileSync(join(root, 'file'), '');
    for (const parent of ['/missing', '/file']) {
      try {
        createRunCgroup({ root, parent });
        expect.unreachable();
      } catch (e) {
        expect((e as UserError).code).toBe('CGROUP_CREATE');
        expect((e as UserError).fix.length).toBeGreaterThan(10);
      }
    }
  });

  it('is removed when empty; processes left in it are said and it stays', async () => {
    const root = tmp('scope-run-');
    const empty = createRunCgroup({ root, parent: '/' });
    expect(await removeRunCgroup(empty)).toEqual({ removed: true });
    expect(existsSync(empty.path)).toBe(false);
    // a fake cgroup: its cgroup.procs file keeps rmdir failing, as a populated cgroup does
    const busy = createRunCgroup({ root, parent: '/' });
    writeFileSync(join(busy.path, 'cgroup.procs'), '4242\n4343\n');
    const r = await removeRunCgroup(busy, 5);
    expect(r).toEqual({ removed: false, pids: [4242, 4343], reason: 'processes are still in it' });
    expect(existsSync(busy.path)).toBe(true);
    const line = removalNotice(busy.path, r) ?? '';
    expect(line).toContain('2 processes left in the cgroup');
    expect(line).toContain('pid 4242, 4343');
    expect(removalNotice(busy.path, { removed: true })).toBeUndefined();
  });
});

describe('run --scope: COMMAND enters the cgroup before it runs', () => {
  it("COMMAND's pid is the one written to cgroup.procs, and its words reach it verbatim (no shell parsing)", async () => {
    const dir = tmp('scope-spawn-');
    const out = join(dir, 'out.json');
    const words = ['a b', '$(touch pwned)', '"; echo x', "it's", '*'];
    const script = 'require("fs").writeFileSync(process.argv[1], JSON.stringify({ pid: process.pid, args: process.argv.slice(3), procs: require("fs").readFileSync(process.argv[2] + "/cgroup.procs", "utf8") }))';
    const { child } = await spawnInCgroup([process.execPath, '-e', script, out, dir, ...words], dir);
    const r = await child;
    expect(r.exitCode).toBe(0);
    const seen = JSON.parse(readFileSync(out, 'utf8')) as { pid: number; args: string[]; procs: string };
    expect(seen.args).toEqual(words);
    // the gate shell exec'd COMMAND: same pid, written before COMMAND read it
    expect(seen.procs).toBe(`${seen.pid}\n`);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });

  it('CGROUP_CREATE, and COMMAND never runs, when it cannot be moved in', async () => {
    const dir = tmp('scope-spawn-');
    const marker = join(dir, 'ran');
    await expect(spawnInCgroup(['touch', marker], join(dir, 'no-such-cgroup'))).rejects.toMatchObject({ code: 'CGROUP_CREATE' });
    expect(existsSync(marker)).toBe(false);
  });

  it('COMMAND_FAILED for a command that is not on PATH', async () => {
    await expect(spawnInCgroup(['exitscope-no-such-command-xyz'], tmp('scope-spawn-'))).rejects.toMatchObject({ code: 'COMMAND_FAILED' });
  });

  it('the gate is fixed text: COMMAND arrives as positional parameters only', () => {
    expect(GATE_SCRIPT).toContain('exec "$@"');
  });
});

describe('the stream and the report say what was scoped', () => {
  const hello = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/recordings/run-npf-1031-npt-on.jsonl'), 'utf8').split('\n')[0] as string) as Record<string, unknown> & { filters: Record<string, unknown> };

  it('hello.filters.cgroup is optional: old hellos parse, new ones keep it, unknown keys are tolerated', () => {
    expect(Hello.parse(hello).filters.cgroup).toBeUndefined();
    const scoped = { ...hello, filters: { ...hello.filters, cgroup: { path: '/sys/fs/cgroup/exitscope-run-1-ab', ids: ['23'], created: true } } };
    expect(Hello.parse(scoped).filters.cgroup).toEqual({ path: '/sys/fs/cgroup/exitscope-run-1-ab', ids: ['23'], created: true });
    expect(() => Message.parse({ ...hello, filters: { ...hello.filters, future: 1 } })).not.toThrow();
  });

  it('the report has scope and a line saying it; without a cgroup neither', () => {
    const agg = new Aggregate();
    agg.apply(Hello.parse({ ...hello, filters: { ...hello.filters, cgroup: { path: '/sys/fs/cgroup/exitscope-run-1-ab', ids: ['23', '24'], created: true } } }));
    const r = buildReport(agg);
    expect(r.scope).toEqual({ cgroup: '/sys/fs/cgroup/exitscope-run-1-ab', ids: ['23', '24'], created: true });
    const text = formatReport(r, 'text');
    expect(text).toContain("scoped to cgroup /sys/fs/cgroup/exitscope-run-1-ab (made for this run by --scope, removed after): only its threads' exits are counted (it and the 1 cgroup below it)");
    expect(formatReport(r, 'markdown')).toContain('scoped to cgroup /sys/fs/cgroup/exitscope-run-1-ab');
    expect(JSON.parse(formatReport(r, 'json')).scope.cgroup).toBe('/sys/fs/cgroup/exitscope-run-1-ab');
    // top --plain / --once and replay say it under their header line
    expect(plainTop(agg, 10_000).split('\n')[1]).toContain('scoped to cgroup /sys/fs/cgroup/exitscope-run-1-ab');
    const plain = new Aggregate();
    plain.apply(Hello.parse(hello));
    expect('scope' in buildReport(plain)).toBe(false);
    expect(formatReport(buildReport(plain), 'text')).not.toContain('scoped to');
    expect(plainTop(plain, 10_000)).not.toContain('scoped to');
  });
});

describe('the command line', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/exitscope.js'), ...args], { encoding: 'utf8' });

  it('--scope and --cgroup together are a usage error (one scope at a time)', () => {
    const r = cli(['run', '--scope', '--cgroup', 'machine.slice', '--', 'true']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error [USAGE]');
    expect(r.stderr).toContain('--scope');
  });

  it.each([['run', '--scope'], ['top', '--cgroup'], ['record', '--cgroup'], ['serve', '--cgroup'], ['flame', '--cgroup']])('%s --help teaches %s with an example', (command, flag) => {
    const r = cli([command, '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(flag);
    if (command === 'run' || command === 'top' || command === 'flame') expect(r.stdout).toMatch(new RegExp(`Examples:[\\s\\S]*exitscope ${command} ${flag}`));
  });
});
