import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { intelLabConfig, treeBytes } from '../../src/lab/intel/boot.js';
import { BOCHS_CPU, bochsrc, CTL_DISK_BYTES, OUT_DISK_BYTES, OUT_DISK_GEOMETRY, RUN_FILES } from '../../src/lab/intel/bochsrc.js';
import { intelUnsupported, type LabCliOptions } from '../../src/lab/intel/command.js';
import { copyBack, createOutDisk, diskHasArchive, safeMemberPath } from '../../src/lab/intel/copy-back.js';
import { intelInitScript } from '../../src/lab/intel/init-script.js';
import { INTEL_BASE_MODULES, planIntelInitramfs } from '../../src/lab/intel/initramfs.js';
import { pathspec, planKey, xorrisoArgs } from '../../src/lab/intel/iso-build.js';
import { INTEL_KERNEL_APPEND, type IsoEntry, isolinuxCfg, planBootIso, planRunIso } from '../../src/lab/intel/iso-plan.js';
import { packageFiles, productionDependencyDirs, resolvePackageDir, withoutNested } from '../../src/lab/intel/package-files.js';
import { intelGuestError, RFB_PORTS, displayIsolation } from '../../src/lab/intel/preflight.js';
import { lddClosure, mergeRootFiles, parseLdd } from '../../src/lab/intel/rootfs.js';
import { FileFollower, GUEST_CTL, GUEST_MODULES, LineSplitter, parseEvent } from '../../src/lab/intel/serial-protocol.js';
import { repoRoot } from '../../src/lab/paths.js';
import { requireStaticBusybox } from '../../src/lab/preflight.js';

describe('bochsrc', () => {
  const rc = bochsrc({ memoryMiB: 2048 });
  const lines = rc.split('\n');
  const line = (key: string): string => lines.find((l) => l.startsWith(`${key}:`)) ?? '';

  it('emulates the VMX + EPT CPU seen working, one core, without waiting on the clock', () => {
    expect(line('cpu')).toBe(`cpu: model=${BOCHS_CPU}, count=1, ips=200000000, reset_on_triple_fault=1, ignore_bad_msrs=1`);
    expect(line('megs')).toBe('megs: 2048');
    expect(line('clock')).toBe('clock: sync=none');
  });
  it('boots the boot ISO, with the run ISO beside it and the output disk on the second channel', () => {
    expect(line('boot')).toBe('boot: cdrom');
    expect(line('ata0-master')).toBe(`ata0-master: type=cdrom, path=${RUN_FILES.bootIso}, status=inserted`);
    expect(line('ata0-slave')).toBe(`ata0-slave: type=cdrom, path=${RUN_FILES.runIso}, status=inserted`);
    expect(line('ata1-master')).toContain(`path=${RUN_FILES.outDisk}, mode=flat, cylinders=4096, heads=16, spt=63`);
  });
  it('the disk size matches the geometry Bochs checks it against', () => {
    expect(OUT_DISK_BYTES).toBe(OUT_DISK_GEOMETRY.cylinders * OUT_DISK_GEOMETRY.heads * OUT_DISK_GEOMETRY.spt * 512);
  });
  it('three serial ports to files: console, stdout, stderr', () => {
    expect(line('com1')).toBe(`com1: enabled=1, mode=file, dev=${RUN_FILES.console}`);
    expect(line('com2')).toBe(`com2: enabled=1, mode=file, dev=${RUN_FILES.stdout}`);
    expect(line('com3')).toBe(`com3: enabled=1, mode=file, dev=${RUN_FILES.stderr}`);
  });
  it('no sound through the host (ALSA without a card aborts Debian\'s Bochs at start)', () => {
    expect(line('sound')).toBe('sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy');
  });
  it('a display that needs no screen and waits for no viewer; panics end Bochs instead of asking', () => {
    expect(line('display_library')).toBe('display_library: rfb, options="timeout=0"');
    expect(line('panic')).toBe('panic: action=fatal');
  });
  it('names only files of its run directory: no host path is written into it', () => {
    for (const l of lines.filter((x) => /path=|dev=|^log:/.test(x))) expect(l).not.toMatch(/=\/|log: \//);
  });
  it('refuses a CPU model that is not a Bochs name, and memory out of range', () => {
    expect(() => bochsrc({ memoryMiB: 2048, cpuModel: 'x, ips=1' })).toThrow(RangeError);
    expect(() => bochsrc({ memoryMiB: 64 })).toThrow(RangeError);
    expect(bochsrc({ memoryMiB: 1024, cpuModel: 'corei7_icelake_u' })).toContain('model=corei7_icelake_u,');
  });
});

describe('the ISO plans', () => {
  const rootFiles = [
    { target: '/usr/bin/node', source: '/usr/bin/node' },
    { target: '/lib/x86_64-linux-gnu/libstdc++.so.6', source: '/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30' },
  ];
  const boot = planBootIso({ vmlinuz: '/k/vmlinuz', initramfs: '/c/initramfs.cpio', isolinuxBin: '/i/isolinux.bin', ldlinux: '/i/ldlinux.c32', rootFiles });
  const target = (t: string) => boot.entries.find((e) => e.target === t);

  it('boot ISO: isolinux, kernel and initramfs where isolinux.cfg names them', () => {
    expect(boot.bootable).toBe(true);
    expect(target('/isolinux/isolinux.bin')).toEqual({ kind: 'graft', target: '/isolinux/isolinux.bin', source: '/i/isolinux.bin' });
    expect(target('/isolinux/ldlinux.c32')).toMatchObject({ source: '/i/ldlinux.c32' });
    expect(target('/boot/vmlinuz')).toMatchObject({ source: '/k/vmlinuz' });
    expect(target('/boot/initrd.img')).toMatchObject({ source: '/c/initramfs.cpio' });
    const cfg = isolinuxCfg();
    expect(target('/isolinux/isolinux.cfg')).toMatchObject({ kind: 'text', text: cfg });
    expect(cfg).toContain('KERNEL /boot/vmlinuz');
    expect(cfg).toContain(`APPEND initrd=/boot/initrd.img ${INTEL_KERNEL_APPEND.join(' ')}`);
    expect(INTEL_KERNEL_APPEND).toContain('console=ttyS0');
  });
  it('boot ISO: the tools at their host paths under /rootfs (content from the resolved file), mount points, a root user', () => {
    expect(target('/rootfs/lib/x86_64-linux-gnu/libstdc++.so.6')).toMatchObject({ source: '/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30' });
    expect(target('/rootfs/usr/bin/node')).toMatchObject({ kind: 'graft' });
    for (const d of ['proc', 'sys', 'dev', 'tmp', 'run', 'bin']) expect(target(`/rootfs/${d}`)).toEqual({ kind: 'dir', target: `/rootfs/${d}` });
    expect(target('/rootfs/etc/passwd')).toMatchObject({ kind: 'text', text: expect.stringMatching(/^root:x:0:0:/) });
  });

  const runInput = { config: 'NPT=1\n', runScript: 'echo hi\n', commands: [{ name: 'exitscope', script: '#!/bin/sh\n' }], packagePaths: ['/opt/es/dist', '/opt/es/package.json', '/opt/es/node_modules/zod'] };
  it('run ISO: control files under /root/run/exitscope-lab, exitscope and the current directory at their host paths', () => {
    const run = planRunIso({ ...runInput, cwd: '/home/u/proj', copyCwd: true });
    expect(run.bootable).toBe(false);
    expect(run.entries).toEqual([
      { kind: 'text', target: `/root${GUEST_CTL}/config`, text: 'NPT=1\n', mode: 0o644 },
      { kind: 'text', target: `/root${GUEST_CTL}/run.sh`, text: 'echo hi\n', mode: 0o644 },
      { kind: 'text', target: `/root${GUEST_CTL}/bin/exitscope`, text: '#!/bin/sh\n', mode: 0o755 },
      { kind: 'graft', target: '/root/opt/es/dist', source: '/opt/es/dist' },
      { kind: 'graft', target: '/root/opt/es/package.json', source: '/opt/es/package.json' },
      { kind: 'graft', target: '/root/opt/es/node_modules/zod', source: '/opt/es/node_modules/zod' },
      { kind: 'graft', target: '/root/home/u/proj', source: '/home/u/proj' },
    ]);
  });
  it('run ISO: a current directory holding exitscope is copied once, whole', () => {
    const run = planRunIso({ ...runInput, cwd: '/opt/es', copyCwd: true });
    expect(run.entries.filter((e) => e.kind === 'graft')).toEqual([{ kind: 'graft', target: '/root/opt/es', source: '/opt/es' }]);
  });
  it('run ISO: a current directory inside exitscope\'s files is on the ISO already', () => {
    const run = planRunIso({ ...runInput, cwd: '/opt/es/dist', copyCwd: true });
    expect(run.entries.filter((e) => e.target.startsWith('/root/opt/es/dist'))).toEqual([{ kind: 'graft', target: '/root/opt/es/dist', source: '/opt/es/dist' }]);
  });
  it('run ISO: without copying (and for /) the directory is there, empty', () => {
    expect(planRunIso({ ...runInput, cwd: '/home/u/proj', copyCwd: false }).entries.at(-1)).toEqual({ kind: 'dir', target: '/root/home/u/proj' });
    expect(planRunIso({ ...runInput, cwd: '/', copyCwd: true }).entries.some((e) => e.target === '/root/' || e.target === '/root')).toBe(false);
    expect(() => planRunIso({ ...runInput, cwd: 'rel', copyCwd: true })).toThrow();
  });
});

describe('xorriso', () => {
  it('graft points escape = and \\ and refuse line breaks', () => {
    expect(pathspec('/root/a=b', '/a=b')).toBe('/root/a\\=b=/a\\=b');
    expect(pathspec('/x\\y', '/x\\y')).toBe('/x\\\\y=/x\\\\y');
    expect(() => pathspec('/a\nb', '/a')).toThrow(UserError);
  });
  it('Rock Ridge, isolinux boot for the boot ISO only', () => {
    expect(xorrisoArgs('o.iso', 'list', true)).toEqual(['-as', 'mkisofs', '-quiet', '-R', '-iso-level', '3', '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '-graft-points', '-path-list', 'list', '-o', 'o.iso']);
    expect(xorrisoArgs('o.iso', 'list', false)).not.toContain('-b');
  });
  it('the cache key changes with a file\'s size or time and with the text', () => {
    const text = (t: string): IsoEntry => ({ kind: 'text', target: '/t', text: t, mode: 0o644 });
    const plan = { bootable: true, entries: [{ kind: 'graft', target: '/a', source: '/a' } as IsoEntry, text('x')] };
    const k1 = planKey(plan, () => ({ size: 1, mtimeMs: 1 }));
    expect(planKey(plan, () => ({ size: 1, mtimeMs: 1 }))).toBe(k1);
    expect(planKey(plan, () => ({ size: 2, mtimeMs: 1 }))).not.toBe(k1);
    expect(planKey(plan, () => ({ size: 1, mtimeMs: 2 }))).not.toBe(k1);
    expect(planKey({ ...plan, entries: [plan.entries[0]!, text('y')] }, () => ({ size: 1, mtimeMs: 1 }))).not.toBe(k1);
  });
});

describe('the guest root: ldd closures', () => {
  // `ldd /usr/bin/bpftrace` on Debian 12 (abridged)
  const out = [
    '\tlinux-vdso.so.1 (0x00007ffd5b7f2000)',
    '\tlibbcc.so.0 => /lib/x86_64-linux-gnu/libbcc.so.0 (0x00007f2a1c000000)',
    '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2a1be1e000)',
    '\t/lib64/ld-linux-x86-64.so.2 (0x00007f2a1e5a1000)',
  ].join('\n');
  it('libraries and the loader, not the vDSO', () => {
    expect(parseLdd(out)).toEqual({ libraries: ['/lib/x86_64-linux-gnu/libbcc.so.0', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2'], missing: [] });
    expect(parseLdd('\tnot a dynamic executable')).toEqual({ libraries: [], missing: [] });
  });
  it('a missing library is an error that names it', () => {
    expect(() => lddClosure('/usr/bin/x', () => '\tlibfoo.so.1 => not found\n', (p) => p)).toThrow(/libfoo\.so\.1/);
  });
  it('targets keep the names the loader asks for; sources are the resolved files; each target once', () => {
    const files = lddClosure('/usr/bin/bpftrace', () => out, (p) => (p.endsWith('libc.so.6') ? '/usr/lib/x86_64-linux-gnu/libc.so.6' : p));
    expect(files[0]).toEqual({ target: '/usr/bin/bpftrace', source: '/usr/bin/bpftrace' });
    expect(files.find((f) => f.target === '/lib/x86_64-linux-gnu/libc.so.6')?.source).toBe('/usr/lib/x86_64-linux-gnu/libc.so.6');
    const merged = mergeRootFiles([files, files]);
    expect(merged).toHaveLength(files.length);
  });
  it('on this machine: node\'s closure exists and includes the loader', () => {
    const files = lddClosure(process.execPath);
    expect(files.some((f) => f.target.includes('ld-linux'))).toBe(true);
    for (const f of files) expect(existsSync(f.source)).toBe(true);
  });
});

describe("exitscope's own files for the guest", () => {
  it('resolves bare names the way Node does: nearest node_modules upwards', () => {
    const have = new Set(['/p/node_modules/a/node_modules/b/package.json', '/p/node_modules/b/package.json']);
    expect(resolvePackageDir('b', '/p/node_modules/a', (f) => have.has(f))).toBe('/p/node_modules/a/node_modules/b');
    expect(resolvePackageDir('b', '/p', (f) => have.has(f))).toBe('/p/node_modules/b');
    expect(resolvePackageDir('c', '/p', (f) => have.has(f))).toBeUndefined();
  });
  it('production dependencies, transitively; a missing optional one is skipped, a missing required one is an error', () => {
    const pkgs: Record<string, object> = { '/p': { dependencies: { a: '1' }, devDependencies: { dev: '1' } }, '/p/node_modules/a': { dependencies: { b: '1' }, optionalDependencies: { gone: '1' } }, '/p/node_modules/b': {} };
    const exists = (f: string) => f.endsWith('/package.json') && f.slice(0, -'/package.json'.length) in pkgs;
    expect(productionDependencyDirs('/p', (d) => pkgs[d] as never, exists)).toEqual(['/p/node_modules/a', '/p/node_modules/b']);
    pkgs['/p/node_modules/b'] = { dependencies: { missing: '1' } };
    expect(() => productionDependencyDirs('/p', (d) => pkgs[d] as never, exists)).toThrow(/missing/);
  });
  it('drops paths inside other paths', () => {
    expect(withoutNested(['/a/b', '/a', '/ab', '/a/b/c'])).toEqual(['/a', '/ab']);
  });
  it('this checkout: bin, dist, the workload and the runtime dependencies, not the dev ones', () => {
    const root = repoRoot();
    const files = packageFiles(root);
    for (const p of ['package.json', 'bin', 'dist', 'build/exitscope-workload', 'node_modules/zod', 'node_modules/ink', 'node_modules/ws']) expect(files).toContain(join(root, p));
    for (const dev of ['vitest', 'typescript', 'esbuild', 'playwright-core']) expect(files).not.toContain(join(root, 'node_modules', dev));
  });
});

describe('the guest /init', () => {
  const script = intelInitScript({ baseModules: ['/lib/modules/libata.ko', '/lib/modules/ata_piix.ko'], kvmModules: ['/lib/modules/kvm.ko', '/lib/modules/kvm-intel.ko'] });
  it('is valid sh', () => {
    const dir = mkdtempSync(join(tmpdir(), 'intel-init-'));
    writeFileSync(join(dir, 'init'), script);
    expect(() => execFileSync('sh', ['-n', join(dir, 'init')])).not.toThrow();
  });
  it('loads kvm_intel last, with the run\'s ept=, after checking the CPU has vmx', () => {
    const vmx = script.indexOf('grep -qw vmx /proc/cpuinfo');
    const intel = script.indexOf(`insmod '/lib/modules/kvm-intel.ko' ept="$NPT"`);
    expect(vmx).toBeGreaterThan(0);
    expect(intel).toBeGreaterThan(script.indexOf("insmod '/lib/modules/kvm.ko'"));
    expect(intel).toBeGreaterThan(vmx);
  });
  it('leaves kvm_intel\'s module where a command can reload it with the other ept=', () => {
    expect(script).toContain(`cp '/lib/modules/kvm-intel.ko' /newroot${GUEST_MODULES}/`);
    expect(GUEST_MODULES).toBe(`${GUEST_CTL}/modules`);
  });
  it('stacks the run ISO over the boot ISO\'s rootfs under a RAM layer', () => {
    expect(script).toContain('lowerdir=/run-iso/root:/boot-iso/rootfs,upperdir=/upper/data');
  });
  it('knows each disk by its size, whichever name the kernel gave it (the probe is asynchronous)', () => {
    const line = script.split('\n').find((l) => l.startsWith('disk_of() {')) as string;
    expect(line).toBeDefined();
    const [outSectors, ctlSectors] = [OUT_DISK_BYTES / 512, CTL_DISK_BYTES / 512];
    for (const [sda, sdb] of [[outSectors, ctlSectors], [ctlSectors, outSectors]]) {
      const sys = mkdtempSync(join(tmpdir(), 'intel-sys-'));
      for (const [name, size] of [['sda', sda], ['sdb', sdb]] as const) {
        mkdirSync(join(sys, 'block', name), { recursive: true });
        writeFileSync(join(sys, 'block', name, 'size'), `${size}\n`);
      }
      const fn = line.replaceAll('/sys/block/', `${sys}/block/`);
      const out = execFileSync(requireStaticBusybox(), ['sh', '-c', `${fn}\necho "$(disk_of ${outSectors}) $(disk_of ${ctlSectors}) [$(disk_of 12345)]"`], { encoding: 'utf8' }).trim();
      expect(out).toBe(sda === outSectors ? '/dev/sda /dev/sdb []' : '/dev/sdb /dev/sda []');
    }
    // the copy-back and the stop watcher use what it found, never a fixed name
    expect(script).toContain(`OUT_DEV=$(disk_of ${outSectors})`);
    expect(script).not.toMatch(/\/dev\/sd[ab]/);
  });

  it('mounts the boot ISO where /rootfs is, whichever CD-ROM it is on', () => {
    expect(script).toMatch(/if \[ ! -d \/boot-iso\/rootfs \]; then\n  umount \/boot-iso \/run-iso\n  mount -t iso9660 -o ro \/dev\/sr1 \/boot-iso && mount -t iso9660 -o ro \/dev\/sr0 \/run-iso/);
  });

  it('reports the status before copy-back, and powers off only after a pause for the UART', () => {
    const order = ['event "status $status"', 'cpio -o -H newc < /list > /newroot$OUT_DEV', 'event "stage done $status"'].map((s) => script.indexOf(s));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(script).toMatch(/off\(\) \{ sync; sleep 3; poweroff -f; \}/);
  });
  it('needs the CD-ROM, disk and overlay modules (their dependencies come from modules.dep)', () => {
    expect([...INTEL_BASE_MODULES]).toEqual(['ata_piix', 'sr_mod', 'sd_mod', 'isofs', 'overlay']);
  });
  it('plans the initramfs from modules.dep: dependencies first, kvm_intel last', () => {
    const root = mkdtempSync(join(tmpdir(), 'intel-kernel-'));
    const modulesDir = join(root, 'lib/modules/6.1.0-test');
    // dependencies as in Debian 12's 6.1.0 modules.dep
    const dep: Record<string, string[]> = {
      'kernel/drivers/scsi/scsi_common.ko': [],
      'kernel/drivers/scsi/scsi_mod.ko': ['kernel/drivers/scsi/scsi_common.ko'],
      'kernel/drivers/ata/libata.ko': ['kernel/drivers/scsi/scsi_mod.ko', 'kernel/drivers/scsi/scsi_common.ko'],
      'kernel/drivers/ata/ata_piix.ko': ['kernel/drivers/ata/libata.ko', 'kernel/drivers/scsi/scsi_mod.ko', 'kernel/drivers/scsi/scsi_common.ko'],
      'kernel/drivers/cdrom/cdrom.ko': [],
      'kernel/drivers/scsi/sr_mod.ko': ['kernel/drivers/cdrom/cdrom.ko', 'kernel/drivers/scsi/scsi_mod.ko', 'kernel/drivers/scsi/scsi_common.ko'],
      'kernel/drivers/scsi/sd_mod.ko': ['kernel/drivers/scsi/scsi_mod.ko', 'kernel/drivers/scsi/scsi_common.ko'],
      'kernel/fs/isofs/isofs.ko': ['kernel/drivers/cdrom/cdrom.ko'],
      'kernel/fs/overlayfs/overlay.ko': [],
      'kernel/virt/lib/irqbypass.ko': [],
      'kernel/arch/x86/kvm/kvm.ko': ['kernel/virt/lib/irqbypass.ko'],
      'kernel/arch/x86/kvm/kvm-intel.ko': ['kernel/arch/x86/kvm/kvm.ko', 'kernel/virt/lib/irqbypass.ko'],
    };
    for (const p of Object.keys(dep)) {
      mkdirSync(join(modulesDir, p, '..'), { recursive: true });
      writeFileSync(join(modulesDir, p), p);
    }
    writeFileSync(join(modulesDir, 'modules.dep'), Object.entries(dep).map(([m, d]) => `${m}: ${d.join(' ')}`).join('\n'));
    writeFileSync(join(root, 'busybox'), 'bb');
    const plan = planIntelInitramfs({ version: '6.1.0-test', modulesDir }, join(root, 'busybox'));
    const modules = plan.filter((e) => e.kind === 'file' && e.path.startsWith('lib/modules/')).map((e) => e.path.slice('lib/modules/'.length));
    expect(modules).toEqual(['scsi_common.ko', 'scsi_mod.ko', 'libata.ko', 'ata_piix.ko', 'cdrom.ko', 'sr_mod.ko', 'sd_mod.ko', 'isofs.ko', 'overlay.ko', 'irqbypass.ko', 'kvm.ko', 'kvm-intel.ko']);
    const init = plan.find((e) => e.kind === 'text' && e.path === 'init');
    expect(init && init.kind === 'text' ? init.text : '').toContain(`insmod '/lib/modules/kvm-intel.ko' ept="$NPT"`);
  });
  it('the config it sources: ept, the directory (quoted), copy-back', () => {
    expect(intelLabConfig({ npt: true, cwd: "/tmp/it's", copyCwd: true })).toBe("NPT=1\nCWD='/tmp/it'\\''s'\nCOPY_BACK=1\n");
    expect(intelLabConfig({ npt: false, cwd: '/', copyCwd: true })).toBe("NPT=0\nCWD='/'\nCOPY_BACK=0\n");
  });
});

describe('the serial protocol', () => {
  it.each([
    ['exitscope-lab: stage init', { kind: 'stage', stage: 'init' }],
    ['[   12.5] exitscope-lab: stage ready', { kind: 'stage', stage: 'ready' }],
    ['exitscope-lab: stage kvm ept=Y unrestricted_guest=N', { kind: 'kvm', ept: true, unrestrictedGuest: false }],
    ['exitscope-lab: stage kvm ept=N unrestricted_guest=N', { kind: 'kvm', ept: false, unrestrictedGuest: false }],
    ['exitscope-lab: error novmx the emulated CPU has no vmx flag', { kind: 'error', code: 'novmx', message: 'the emulated CPU has no vmx flag' }],
    ['exitscope-lab: status 7', { kind: 'status', status: 7 }],
    ['exitscope-lab: copied 3', { kind: 'copied', files: 3 }],
    ['exitscope-lab: stage done 0', { kind: 'done', status: 0 }],
    ['exitscope-lab: note no cgroup v2', { kind: 'note', message: 'no cgroup v2' }],
  ])('%s', (line, event) => {
    expect(parseEvent(line)).toEqual(event);
  });
  it.each(['[    0.3] Failed to access perfctr msr', 'exitscope-lab: status x', 'exitscope-lab: stage nonsense', 'exitscope-lab: copied'])('no event in %j', (line) => {
    expect(parseEvent(line)).toBeUndefined();
  });
  it('splits serial CR LF lines, keeping a partial line for later', () => {
    const s = new LineSplitter();
    const got: string[] = [];
    s.push('a\r\nb', (l) => got.push(l));
    s.push('c\r\n', (l) => got.push(l));
    expect(got).toEqual(['a', 'bc']);
    s.push('tail', (l) => got.push(l));
    expect(s.rest()).toBe('tail');
  });
  it('follows a growing file from where it left off; a file not there yet reads empty', () => {
    const dir = mkdtempSync(join(tmpdir(), 'follow-'));
    const f = new FileFollower(join(dir, 'com1.txt'));
    expect(f.read().length).toBe(0);
    writeFileSync(join(dir, 'com1.txt'), 'one');
    expect(f.read().toString()).toBe('one');
    writeFileSync(join(dir, 'com1.txt'), 'one two', { flag: 'w' });
    expect(f.read().toString()).toBe(' two');
    expect(f.read().length).toBe(0);
    f.close();
  });
});

describe('copy-back', () => {
  it('a fresh disk is sparse, its size Bochs\' geometry, and holds no archive', () => {
    const dir = mkdtempSync(join(tmpdir(), 'disk-'));
    const disk = join(dir, 'out.img');
    createOutDisk(disk);
    expect(statSync(disk).size).toBe(OUT_DISK_BYTES);
    expect(statSync(disk).blocks).toBeLessThan(64);
    expect(diskHasArchive(disk)).toBe(false);
  });
  it('an archive written from sector 0 (as busybox cpio writes it in the guest) unpacks into the directory: regular files only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'disk-'));
    const src = join(dir, 'upper');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'report.json'), '{"ok":true}');
    writeFileSync(join(src, 'sub', 'flame.folded'), 'a;b 1\n', { mode: 0o640 });
    writeFileSync(join(src, 'empty'), '');
    const disk = join(dir, 'out.img');
    createOutDisk(disk, 1 << 20);
    // the guest's command: `find . -type f | cpio -o -H newc > /dev/sda` (with a directory thrown in)
    execFileSync('sh', ['-c', `printf './report.json\n./sub\n./sub/flame.folded\n./empty\n' | busybox cpio -o -H newc > ${disk} 2>/dev/null`], { cwd: src });
    expect(diskHasArchive(disk)).toBe(true);
    const into = join(dir, 'cwd');
    mkdirSync(into);
    expect(copyBack(disk, into).sort()).toEqual(['empty', 'report.json', 'sub/flame.folded']);
    expect(readFileSync(join(into, 'report.json'), 'utf8')).toBe('{"ok":true}');
    expect(readFileSync(join(into, 'sub', 'flame.folded'), 'utf8')).toBe('a;b 1\n');
    expect(statSync(join(into, 'sub', 'flame.folded')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(into, 'empty'), 'utf8')).toBe('');
  });
  it('never leaves the directory: absolute and ../ names are skipped', () => {
    expect(safeMemberPath('./a/b')).toBe('a/b');
    expect(safeMemberPath('a/./b')).toBe('a/b');
    for (const bad of ['/etc/passwd', '../x', './../x', 'a/../../x', '.', './']) expect(safeMemberPath(bad)).toBeUndefined();
  });
  it('an archive without its trailer is an error, not a silent half copy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'disk-'));
    const disk = join(dir, 'out.img');
    writeFileSync(disk, Buffer.concat([Buffer.from('070701'), Buffer.alloc(200, 0x41)]));
    expect(() => copyBack(disk, dir)).toThrow(UserError);
  });
});

describe('preflight and options', () => {
  const base: LabCliOptions = { run: 'true', npt: 'on', memory: 2048, writable: [], forward: [] };
  it('the Intel lab runs one command, with no --forward, --writable, --userland, --tcg or --cpus above 1', () => {
    expect(intelUnsupported(base)).toBeUndefined();
    expect(intelUnsupported({ ...base, writable: false })).toBeUndefined();
    const { run: _run, ...noRun } = base;
    for (const bad of [noRun, { ...base, forward: [{ hostPort: 1, guestPort: 1 }] }, { ...base, writable: ['/tmp'] }, { ...base, cpu: 'EPYC,+svm' }, { ...base, userland: 'trixie' }, { ...base, cpus: 2 }, { ...base, tcg: 'multi' as const }]) expect(intelUnsupported(bad)?.code).toBe('LAB_INTEL_UNSUPPORTED');
    expect(intelUnsupported({ ...base, cpu: 'corei7_icelake_u' })).toBeUndefined();
    expect(intelUnsupported({ ...base, cpus: 1 })).toBeUndefined();
    expect(intelUnsupported({ ...base, cpus: 4 })?.message).toContain('one vCPU');
  });
  it('without a network namespace, a free rfb port is needed; none free is LAB_PORT_IN_USE', async () => {
    await expect(displayIsolation('/nonexistent', async () => false)).rejects.toMatchObject({ code: 'LAB_PORT_IN_USE' });
    expect(await displayIsolation('/nonexistent', async (p) => p === RFB_PORTS.first + 3)).toEqual({ kind: 'port', port: RFB_PORTS.first + 3 });
  });
  it('guest errors carry their fixes', () => {
    expect(intelGuestError('novmx', 'no vmx', '')).toMatchObject({ code: 'LAB_NO_VMX' });
    expect(intelGuestError('nokvm', 'x', '')).toMatchObject({ code: 'LAB_NO_KVM' });
    expect(intelGuestError('copyback', 'x', '')).toMatchObject({ code: 'LAB_COPY_BACK' });
    expect(intelGuestError('whatever', 'x', 'tail')).toMatchObject({ code: 'LAB_GUEST_FAILED' });
  });
  it('sizes a directory, stopping once past the limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'size-'));
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'a', 'f'), Buffer.alloc(1000));
    writeFileSync(join(dir, 'g'), Buffer.alloc(24));
    expect(treeBytes(dir, 1 << 20)).toBe(1024);
  });
});
