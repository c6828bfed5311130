/**
 * The lab's guest kernel: a Debian linux-image package (vmlinuz + modules, with
 * kvm_amd, KPROBES and BTF), fetched once with `apt-get download` and unpacked
 * into the cache. `--kernel` points at another package or unpacked tree, or names
 * a Debian suite (`debian:SUITE`, src/lab/kernels/).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { UserError } from '../errors.js';
import { withCacheLock } from './cache-lock.js';
import type { KernelTree } from './initramfs.js';
import { fetchSuiteKernel } from './kernels/fetch-suite.js';
import { findKernelTree } from './kernels/layout.js';
import { KERNEL_METAPACKAGE, parseKernelChoice } from './kernels/suites.js';
import { unpackKernel } from './kernels/unpack.js';

export { findKernelTree } from './kernels/layout.js';
export { KERNEL_METAPACKAGE } from './kernels/suites.js';

const run = promisify(execFile);

export interface GuestKernel extends KernelTree {
  vmlinuz: string;
  /** Where it came from, for the progress line and docs: "cache", "download" or "--kernel". */
  source: 'cache' | 'download' | '--kernel';
  /** For --kernel debian:SUITE: the suite and package, e.g. "debian:sid, linux-image-7.2.13+deb14-amd64 7.2.13-1". */
  origin?: string;
}

/** Finds "linux-image-6.1.0-56-amd64" in `apt-cache depends linux-image-amd64` output. */
export function kernelPackageFromDepends(text: string): string | undefined {
  const m = /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(text);
  return m?.[1];
}

function ready(root: string, source: GuestKernel['source']): GuestKernel | undefined {
  const tree = findKernelTree(root);
  if (!tree || !existsSync(join(tree.modulesDir, 'modules.dep'))) return undefined;
  return { version: tree.version, vmlinuz: tree.vmlinuz, modulesDir: tree.modulesDir, source };
}

/**
 * Returns a kernel ready to boot. With no option, the newest kernel in the
 * cache is used, or the distribution's current one is downloaded.
 */
export async function resolveKernel(opts: {
  cache: string;
  kernel?: string;
  progress: (msg: string) => void;
}): Promise<GuestKernel> {
  const kernels = join(opts.cache, 'kernels');
  const choice = opts.kernel ? parseKernelChoice(opts.kernel) : undefined;
  if (choice?.kind === 'suite') {
    const k = await fetchSuiteKernel({ cache: opts.cache, suite: choice.suite, progress: opts.progress });
    return { version: k.version, vmlinuz: k.vmlinuz, modulesDir: k.modulesDir, source: k.from, origin: `debian:${choice.suite.name}, ${k.image} ${k.packageVersion}` };
  }
  // one exitscope at a time: two labs started at once on an empty cache would download and unpack into the same place
  mkdirSync(opts.cache, { recursive: true });
  const lock = join(opts.cache, 'kernels.lock');
  return withCacheLock(lock, { waiting: () => opts.progress(`waiting for another exitscope that is fetching or unpacking a kernel (${lock})`) }, () => hostOrPathKernel(opts, kernels));
}

async function hostOrPathKernel(opts: { cache: string; kernel?: string; progress: (msg: string) => void }, kernels: string): Promise<GuestKernel> {
  if (opts.kernel) {
    const path = resolve(opts.kernel);
    if (!existsSync(path)) throw new UserError('LAB_NO_KERNEL', `--kernel ${opts.kernel}: no such file or directory`, 'pass a linux-image .deb or a directory it was unpacked into');
    if (statSync(path).isDirectory()) {
      const k = ready(path, '--kernel');
      if (!k) throw new UserError('LAB_BAD_KERNEL', `${path} holds no boot/vmlinuz-* with lib/modules/<version>/modules.dep (nor usr/lib/modules/<version>/vmlinuz with it)`, `run: depmod -b ${path} <version>, or pass the .deb itself`);
      return k;
    }
    const into = join(kernels, `from-${path.replace(/[^A-Za-z0-9.]+/g, '_')}`);
    const cached = ready(into, '--kernel');
    if (cached) return cached;
    opts.progress(`unpacking ${path}`);
    await unpackKernel([path], into);
    return ready(into, '--kernel') as GuestKernel;
  }

  if (existsSync(kernels)) {
    const names = readdirSync(kernels).filter((n) => n.startsWith('linux-image-')).sort().reverse();
    for (const name of names) {
      const k = ready(join(kernels, name), 'cache');
      if (k) return k;
    }
  }

  const depends = await run('apt-cache', ['depends', KERNEL_METAPACKAGE]).catch(() => ({ stdout: '' }));
  const pkg = kernelPackageFromDepends(depends.stdout);
  if (!pkg)
    throw new UserError(
      'LAB_NO_KERNEL_PACKAGE',
      `apt knows no ${KERNEL_METAPACKAGE} package, so there is no guest kernel to download`,
      'run `apt-get update` (Debian 12 or later), or pass --kernel PATH to a linux-image-*-amd64 .deb',
    );
  const download = join(opts.cache, 'download');
  mkdirSync(download, { recursive: true });
  opts.progress(`downloading ${pkg} (once; about 70 MB)`);
  try {
    await run('apt-get', ['download', '-q', pkg], { cwd: download });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? String(e);
    throw new UserError('LAB_NO_KERNEL_PACKAGE', `apt-get download ${pkg} failed: ${stderr.trim().split('\n').pop()}`, 'run `apt-get update` and try again, or pass --kernel PATH');
  }
  const deb = readdirSync(download).find((n) => n.startsWith(`${pkg}_`) && n.endsWith('.deb'));
  if (!deb) throw new UserError('LAB_NO_KERNEL_PACKAGE', `apt-get download ${pkg} wrote no .deb`, 'pass --kernel PATH');
  opts.progress(`unpacking ${pkg}`);
  const into = join(kernels, pkg);
  await unpackKernel([join(download, deb)], into);
  rmSync(join(download, deb), { force: true });
  const k = ready(into, 'download');
  if (!k) throw new UserError('LAB_BAD_KERNEL', `${pkg} unpacked without modules.dep`, 'apt-get install kmod, then retry');
  return k;
}
