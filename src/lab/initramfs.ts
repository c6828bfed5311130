/**
 * The lab's initramfs: busybox, /init and the modules it loads. Uncompressed:
 * under software emulation the kernel's own gunzip would cost more boot time
 * than reading the larger file saves.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CpioEntry, writeCpio } from './cpio.js';
import { INIT_MODULE_DIR, initScript } from './init-script.js';
import { decompressedName, readModule } from './kernels/compressed-modules.js';
import { BASE_MODULES, KVM_MODULES, loadOrder, parseModulesBuiltin, parseModulesDep } from './modules.js';

export interface KernelTree {
  version: string;
  /** Directory holding modules.dep and kernel/... for this version. */
  modulesDir: string;
}

/** What goes into the archive: each entry, with the host file a regular file is read from. */
export type PlannedEntry =
  | { kind: 'dir'; path: string }
  | { kind: 'file'; path: string; mode: number; from: string }
  /** A kernel module: read from `from`, decompressed when it is a .ko.xz/.ko.zst/.ko.gz (kernels/compressed-modules.ts). */
  | { kind: 'module'; path: string; mode: number; from: string }
  | { kind: 'text'; path: string; mode: number; text: string }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number };

/** Plans the archive from the kernel's modules.dep: pure apart from reading that file. */
export function planInitramfs(kernel: KernelTree, busyboxPath: string): PlannedEntry[] {
  const dep = parseModulesDep(readFileSync(join(kernel.modulesDir, 'modules.dep'), 'utf8'));
  const builtinFile = join(kernel.modulesDir, 'modules.builtin');
  const builtin = existsSync(builtinFile) ? parseModulesBuiltin(readFileSync(builtinFile, 'utf8')) : new Set<string>();
  const base = loadOrder(dep, BASE_MODULES, builtin);
  const kvm = loadOrder(dep, KVM_MODULES, builtin).filter((m) => !base.includes(m));
  const overlay = dep.has('overlay') && !builtin.has('overlay') ? dep.get('overlay')?.path : undefined;
  return planEntries({ base, kvm, overlay, modulesDir: kernel.modulesDir, busyboxPath });
}

/** The entry list itself, from resolved module paths (relative to modulesDir). */
export function planEntries(p: {
  base: string[];
  kvm: string[];
  overlay: string | undefined;
  modulesDir: string;
  busyboxPath: string;
}): PlannedEntry[] {
  // compressed modules go in decompressed, under the plain .ko name
  const inRamfs = (rel: string): string => `${INIT_MODULE_DIR}/${decompressedName(rel.slice(rel.lastIndexOf('/') + 1))}`;
  const moduleFiles = [...p.base, ...p.kvm, ...(p.overlay ? [p.overlay] : [])];
  const entries: PlannedEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', 'ctl', 'lower', 'upper', 'newroot'].map(
      (path): PlannedEntry => ({ kind: 'dir', path }),
    ),
    // The kernel opens /dev/console before it runs /init, before devtmpfs is mounted.
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', path: 'bin/busybox', mode: 0o755, from: p.busyboxPath },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    ...moduleFiles.map((rel): PlannedEntry => ({ kind: 'module', path: inRamfs(rel).slice(1), mode: 0o644, from: join(p.modulesDir, rel) })),
    {
      kind: 'text',
      path: 'init',
      mode: 0o755,
      text: initScript({
        baseModules: p.base.map(inRamfs),
        kvmModules: p.kvm.map(inRamfs),
        ...(p.overlay ? { overlayModule: inRamfs(p.overlay) } : {}),
      }),
    },
  ];
  return entries;
}

function toCpioEntries(plan: PlannedEntry[]): CpioEntry[] {
  return plan.map((e): CpioEntry => {
    switch (e.kind) {
      case 'dir':
        return { kind: 'dir', path: e.path, mode: 0o755 };
      case 'file':
        return { kind: 'file', path: e.path, mode: e.mode, data: readFileSync(e.from) };
      case 'module':
        return { kind: 'file', path: e.path, mode: e.mode, data: readModule(e.from) };
      case 'text':
        return { kind: 'file', path: e.path, mode: e.mode, data: Buffer.from(e.text, 'utf8') };
      case 'symlink':
        return e;
      case 'chardev':
        return { kind: 'chardev', path: e.path, mode: 0o600, major: e.major, minor: e.minor };
    }
  });
}

/**
 * Writes the archive into cacheDir, named by a hash of its contents, and
 * returns its path; an archive with the same contents is reused.
 */
export function buildInitramfs(plan: PlannedEntry[], cacheDir: string): { path: string; reused: boolean } {
  const archive = writeCpio(toCpioEntries(plan));
  const hash = createHash('sha256').update(archive).digest('hex').slice(0, 16);
  const path = join(cacheDir, `initramfs-${hash}.cpio`);
  if (existsSync(path)) return { path, reused: true };
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(`${path}.tmp`, archive);
  renameSync(`${path}.tmp`, path);
  return { path, reused: false };
}
