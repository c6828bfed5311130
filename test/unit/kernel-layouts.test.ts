/**
 * Kernel packages in both layouts, built for real with dpkg-deb (tiny fake trees: the files are
 * text, not ELF, which depmod lists all the same), then unpacked, depmod'ed and put into an
 * initramfs by the lab's own code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildInitramfs, planInitramfs } from '../../src/lab/initramfs.js';
import { resolveKernel } from '../../src/lab/kernel.js';
import { decompressedName, moduleCompression, readModule } from '../../src/lab/kernels/compressed-modules.js';
import { findKernelTree } from '../../src/lab/kernels/layout.js';
import { unpackKernel } from '../../src/lab/kernels/unpack.js';

const scratch = mkdtempSync(join(tmpdir(), 'kernel-layouts-'));

/** A real .deb of these files (dpkg-deb -b). */
function deb(name: string, files: Record<string, string | Buffer>): string {
  const root = join(scratch, `${name}-root`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  writeFileSync(join(root, 'DEBIAN/control'), `Package: ${name}\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: test <test@example.org>\nDescription: test kernel part\n`);
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), data);
  }
  const out = join(scratch, `${name}_1.0-1_amd64.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-b', root, out], { stdio: 'ignore' });
  return out;
}

const xz = (text: string): Buffer => execFileSync('xz', ['-c'], { input: text });
const zstd = (text: string): Buffer => execFileSync('zstd', ['-c', '-q'], { input: text });
const modulePaths = {
  kvm: 'kernel/arch/x86/kvm/kvm.ko',
  kvmAmd: 'kernel/arch/x86/kvm/kvm-amd.ko',
  virtio: 'kernel/drivers/virtio/virtio.ko',
  net9p: 'kernel/net/9p/9pnet.ko',
  net9pVirtio: 'kernel/net/9p/9pnet_virtio.ko',
  fs9p: 'kernel/fs/9p/9p.ko',
  virtioNet: 'kernel/drivers/net/virtio_net.ko',
};
const busybox = join(scratch, 'busybox');
writeFileSync(busybox, 'busybox binary');

/** A file of one cpio archive, by path (cpio -i --to-stdout). */
function fromArchive(archive: string, path: string): string {
  return execFileSync('cpio', ['-i', '--quiet', '--to-stdout', '-F', archive, path], { encoding: 'utf8' });
}

describe('compressed modules', () => {
  it('names the compression and the plain name', () => {
    expect(['a.ko', 'a.ko.xz', 'a.ko.zst', 'a.ko.gz', 'a.xz'].map(moduleCompression)).toEqual([undefined, 'xz', 'zst', 'gz', undefined]);
    expect(decompressedName('kernel/kvm-amd.ko.xz')).toBe('kernel/kvm-amd.ko');
    expect(decompressedName('kernel/kvm-amd.ko')).toBe('kernel/kvm-amd.ko');
  });

  it('reads each format back to the same bytes', () => {
    const dir = mkdtempSync(join(scratch, 'mod-'));
    const text = 'ELF-ish module bytes\n'.repeat(50);
    const files = { 'm.ko': Buffer.from(text), 'm.ko.xz': xz(text), 'm.ko.zst': zstd(text), 'm.ko.gz': gzipSync(text) };
    for (const [name, data] of Object.entries(files)) {
      writeFileSync(join(dir, name), data);
      expect(readModule(join(dir, name)).toString()).toBe(text);
    }
    // the compressed files really were compressed (not the text under another name)
    expect(readFileSync(join(dir, 'm.ko.xz')).toString()).not.toBe(text);
  });

  it('says which file a decompressor refused', () => {
    const dir = mkdtempSync(join(scratch, 'bad-'));
    writeFileSync(join(dir, 'broken.ko.xz'), 'not xz at all');
    expect(() => readModule(join(dir, 'broken.ko.xz'))).toThrow(expect.objectContaining({ code: 'LAB_BAD_KERNEL', message: expect.stringContaining('broken.ko.xz') }));
  });
});

describe('the single-package layout (Debian 11 to 13)', () => {
  const version = '5.10.0-99-amd64';
  const files: Record<string, string> = { [`boot/vmlinuz-${version}`]: 'vmlinuz 5.10', [`boot/System.map-${version}`]: '' };
  for (const p of Object.values(modulePaths)) files[`lib/modules/${version}/${p}`] = `module ${p}`;
  const pkg = deb('linux-image-5.10.0-99-amd64', files);

  it('unpacks into a tree with vmlinuz under boot/ and modules.dep written', async () => {
    const into = join(scratch, 'single');
    await unpackKernel([pkg], into);
    const tree = findKernelTree(into);
    expect(tree).toEqual({ version, vmlinuz: join(into, 'boot', `vmlinuz-${version}`), modulesDir: join(into, 'lib/modules', version), layout: 'single' });
    expect(readFileSync(join(into, 'lib/modules', version, 'modules.dep'), 'utf8')).toContain(`${modulePaths.kvmAmd}:`);
    expect(existsSync(`${into}.partial`)).toBe(false);
  });

  it('--kernel PATH.deb still works: unpacked once into the cache', async () => {
    const cache = mkdtempSync(join(scratch, 'cache-'));
    const lines: string[] = [];
    const k = await resolveKernel({ cache, kernel: pkg, progress: (l) => lines.push(l) });
    expect(k).toMatchObject({ version, source: '--kernel' });
    expect(readFileSync(k.vmlinuz, 'utf8')).toBe('vmlinuz 5.10');
    const again = await resolveKernel({ cache, kernel: pkg, progress: (l) => lines.push(l) });
    expect(again.vmlinuz).toBe(k.vmlinuz);
    expect(lines.filter((l) => l.startsWith('unpacking'))).toHaveLength(1);
  });
});

describe('the split layout (Debian 14 / sid: linux-binary, linux-modules, linux-base)', () => {
  const version = '7.2.99+deb14-amd64';
  const dir = `usr/lib/modules/${version}`;
  const text = (p: string): string => `module ${p}\n`.repeat(20);
  const modules: Record<string, Buffer> = {};
  for (const [key, p] of Object.entries(modulePaths)) {
    // most as .ko.xz, as Debian ships them; one .ko.zst; virtio_pci is not there at all: built in
    modules[`${dir}/${p}${key === 'net9p' ? '.zst' : '.xz'}`] = key === 'net9p' ? zstd(text(p)) : xz(text(p));
  }
  const binary = deb(`linux-binary-${version}`, { [`${dir}/vmlinuz`]: 'vmlinuz 7.2' });
  const mods = deb(`linux-modules-${version}`, modules);
  const base = deb(`linux-base-${version}`, {
    [`${dir}/modules.builtin`]: 'kernel/drivers/virtio/virtio_pci.ko\nkernel/fs/overlayfs/overlay.ko\n',
    [`${dir}/modules.order`]: Object.values(modulePaths).join('\n'),
    [`${dir}/config`]: 'CONFIG_KVM=m\n',
    [`${dir}/System.map`]: '',
  });
  const into = join(scratch, 'split');

  it('unpacks the three parts into one tree: vmlinuz in the modules directory, modules.dep by depmod', async () => {
    await unpackKernel([binary, mods, base], into);
    expect(findKernelTree(into)).toEqual({ version, vmlinuz: join(into, dir, 'vmlinuz'), modulesDir: join(into, dir), layout: 'split' });
    const dep = readFileSync(join(into, dir, 'modules.dep'), 'utf8');
    expect(dep).toContain(`${modulePaths.kvmAmd}.xz:`);
    expect(dep).toContain(`${modulePaths.net9p}.zst:`);
  });

  it('plans an initramfs from it: built-in modules left out, compressed ones under their plain names', async () => {
    if (!existsSync(join(into, dir, 'modules.dep'))) await unpackKernel([binary, mods, base], into);
    // depmod wrote no dependencies (the fake modules have no symbols): give it the real shape
    const dep = [
      `${modulePaths.kvmAmd}.xz: ${modulePaths.kvm}.xz`,
      `${modulePaths.kvm}.xz:`,
      `${modulePaths.virtio}.xz:`,
      `${modulePaths.net9pVirtio}.xz: ${modulePaths.net9p}.zst ${modulePaths.virtio}.xz`,
      `${modulePaths.net9p}.zst:`,
      `${modulePaths.fs9p}.xz: ${modulePaths.net9p}.zst`,
      `${modulePaths.virtioNet}.xz: ${modulePaths.virtio}.xz`,
    ].join('\n');
    writeFileSync(join(into, dir, 'modules.dep'), `${dep}\n`);
    const plan = planInitramfs({ version, modulesDir: join(into, dir) }, busybox);
    const inRamfs = plan.filter((e) => e.path.startsWith('lib/modules/')).map((e) => e.path).sort();
    expect(inRamfs).toEqual(['9p', '9pnet', '9pnet_virtio', 'kvm', 'kvm-amd', 'virtio', 'virtio_net'].map((m) => `lib/modules/${m}.ko`).sort());
    const init = plan.find((e) => e.path === 'init');
    const initText = init?.kind === 'text' ? init.text : '';
    expect(initText).not.toContain('virtio_pci');
    expect(initText).not.toContain('.xz');

    const built = buildInitramfs(plan, join(scratch, 'initramfs'));
    expect(fromArchive(built.path, 'lib/modules/kvm-amd.ko')).toBe(text(modulePaths.kvmAmd));
    expect(fromArchive(built.path, 'lib/modules/9pnet.ko')).toBe(text(modulePaths.net9p));
  });
});
