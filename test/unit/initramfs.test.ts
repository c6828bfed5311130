import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCpio } from '../../src/lab/cpio.js';
import { initScript } from '../../src/lab/init-script.js';
import { buildInitramfs, planEntries, planInitramfs } from '../../src/lab/initramfs.js';

/** A fake kernel tree: modules.dep and empty .ko files, enough to plan and build. */
function fakeKernel(): { version: string; modulesDir: string; busybox: string } {
  const root = mkdtempSync(join(tmpdir(), 'kernel-'));
  const modulesDir = join(root, 'lib/modules/6.1.0-test');
  const dep: Record<string, string[]> = {
    'kernel/arch/x86/kvm/kvm-amd.ko': ['kernel/arch/x86/kvm/kvm.ko'],
    'kernel/arch/x86/kvm/kvm.ko': [],
    'kernel/drivers/virtio/virtio_pci.ko': ['kernel/drivers/virtio/virtio.ko'],
    'kernel/drivers/virtio/virtio.ko': [],
    'kernel/net/9p/9pnet_virtio.ko': ['kernel/net/9p/9pnet.ko', 'kernel/drivers/virtio/virtio.ko'],
    'kernel/net/9p/9pnet.ko': [],
    'kernel/fs/9p/9p.ko': ['kernel/net/9p/9pnet.ko'],
    'kernel/drivers/net/virtio_net.ko': ['kernel/drivers/virtio/virtio.ko'],
    'kernel/fs/overlayfs/overlay.ko': [],
  };
  for (const path of Object.keys(dep)) {
    mkdirSync(join(modulesDir, path, '..'), { recursive: true });
    writeFileSync(join(modulesDir, path), `module ${path}`);
  }
  writeFileSync(join(modulesDir, 'modules.dep'), Object.entries(dep).map(([m, d]) => `${m}: ${d.join(' ')}`).join('\n'));
  const busybox = join(root, 'busybox');
  writeFileSync(busybox, 'busybox binary');
  return { version: '6.1.0-test', modulesDir, busybox };
}

describe('the initramfs contents list', () => {
  const k = fakeKernel();
  const plan = planInitramfs(k, k.busybox);
  const paths = plan.map((e) => e.path);

  it('has /init, busybox with /bin/sh, and /dev/console for the kernel to open before /init', () => {
    expect(plan.find((e) => e.path === 'init')).toMatchObject({ kind: 'text', mode: 0o755 });
    expect(plan.find((e) => e.path === 'bin/busybox')).toMatchObject({ kind: 'file', from: k.busybox });
    expect(plan.find((e) => e.path === 'bin/sh')).toMatchObject({ kind: 'symlink', target: 'busybox' });
    expect(plan.find((e) => e.path === 'dev/console')).toMatchObject({ kind: 'chardev', major: 5, minor: 1 });
  });

  it('carries exactly the modules /init loads, plus overlay', () => {
    const modules = paths.filter((p) => p.startsWith('lib/modules/')).sort();
    expect(modules).toEqual(
      ['9p', '9pnet', '9pnet_virtio', 'kvm', 'kvm-amd', 'overlay', 'virtio', 'virtio_net', 'virtio_pci'].map((m) => `lib/modules/${m}.ko`).sort(),
    );
  });

  it('has /init insmod them dependencies first, kvm_amd last with npt from the run config', () => {
    const init = plan.find((e) => e.path === 'init');
    const text = init?.kind === 'text' ? init.text : '';
    const at = (m: string): number => text.indexOf(`insmod '/lib/modules/${m}.ko'`);
    expect(at('virtio')).toBeGreaterThan(0);
    expect(at('virtio')).toBeLessThan(at('virtio_pci'));
    expect(at('9pnet')).toBeLessThan(at('9p'));
    expect(at('kvm')).toBeLessThan(text.indexOf(`insmod '/lib/modules/kvm-amd.ko' npt="$NPT"`));
    // the run config is read before KVM loads (npt comes from it)
    expect(text.indexOf('. /ctl/config')).toBeLessThan(at('kvm'));
  });

  it('has every directory /init mounts on', () => {
    for (const d of ['proc', 'sys', 'dev', 'ctl', 'lower', 'upper', 'newroot', 'bin']) expect(paths).toContain(d);
  });

  it('builds an archive the kernel format reader accepts, cached by content', () => {
    const cache = mkdtempSync(join(tmpdir(), 'initramfs-cache-'));
    const first = buildInitramfs(plan, cache);
    const second = buildInitramfs(plan, cache);
    expect(first.reused).toBe(false);
    expect(second).toEqual({ path: first.path, reused: true });
    const listed = execFileSync('cpio', ['-it', '--quiet', '-F', first.path], { encoding: 'utf8' }).trim().split('\n');
    expect(listed).toEqual(paths);
    expect(readCpio(Buffer.from(execFileSync('cat', [first.path]))).length).toBe(plan.length);
  });

  it('does not plan an overlay module when the kernel has none', () => {
    const p = planEntries({ base: [], kvm: ['kernel/kvm-amd.ko'], overlay: undefined, modulesDir: '/m', busyboxPath: '/bb' });
    expect(p.some((e) => e.path.includes('overlay'))).toBe(false);
  });
});

describe('initScript', () => {
  it('quotes module paths it is given', () => {
    const text = initScript({ baseModules: ["/lib/modules/it's.ko"], kvmModules: ['/lib/modules/kvm-amd.ko'] });
    expect(text).toContain(`insmod '/lib/modules/it'\\''s.ko'`);
  });

  it('needs the vendor module', () => {
    expect(() => initScript({ baseModules: [], kvmModules: [] })).toThrow(/no KVM module/);
  });

  it('mounts cgroup v2 at /sys/fs/cgroup of the new root, after sysfs moved there (run --scope, --cgroup)', () => {
    const text = initScript({ baseModules: [], kvmModules: ['/lib/modules/kvm-amd.ko'] });
    const mount = text.indexOf('mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup');
    expect(mount).toBeGreaterThan(text.indexOf('mount --move /sys /newroot/sys'));
    expect(mount).toBeLessThan(text.indexOf('chroot /newroot'));
  });

  it('is valid shell for busybox sh and dash', () => {
    const text = initScript({ baseModules: ['/lib/modules/a.ko'], kvmModules: ['/lib/modules/kvm.ko', '/lib/modules/kvm-amd.ko'], overlayModule: '/lib/modules/overlay.ko' });
    execFileSync('sh', ['-n'], { input: text });
  });
});
