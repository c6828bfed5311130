/**
 * The Intel lab's initramfs: busybox, /init (init-script.ts) and the modules it loads, in load
 * order from the kernel's own modules.dep. The archive is written and cached by content hash with
 * the QEMU lab's writer (../initramfs.ts); only the plan differs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INIT_MODULE_DIR } from '../init-script.js';
import type { KernelTree, PlannedEntry } from '../initramfs.js';
import { loadOrder, parseModulesBuiltin, parseModulesDep } from '../modules.js';
import { intelInitScript } from './init-script.js';

/**
 * Loaded first: the PIIX IDE controller Bochs emulates, the CD-ROM and disk drivers, ISO 9660
 * and overlayfs (the root is the two CDs under a RAM layer). Their dependencies come from modules.dep.
 */
export const INTEL_BASE_MODULES = ['ata_piix', 'sr_mod', 'sd_mod', 'isofs', 'overlay'] as const;
/** Loaded once the run's config is read (kvm_intel takes ept=); the vendor module comes last. */
export const INTEL_KVM_MODULES = ['kvm_intel'] as const;

export function planIntelInitramfs(kernel: KernelTree, busyboxPath: string): PlannedEntry[] {
  const dep = parseModulesDep(readFileSync(join(kernel.modulesDir, 'modules.dep'), 'utf8'));
  const builtinFile = join(kernel.modulesDir, 'modules.builtin');
  const builtin = existsSync(builtinFile) ? parseModulesBuiltin(readFileSync(builtinFile, 'utf8')) : new Set<string>();
  const base = loadOrder(dep, INTEL_BASE_MODULES, builtin);
  const kvm = loadOrder(dep, INTEL_KVM_MODULES, builtin).filter((m) => !base.includes(m));
  return intelInitramfsEntries({ base, kvm, modulesDir: kernel.modulesDir, busyboxPath });
}

/** The entry list from resolved module paths (relative to modulesDir). */
export function intelInitramfsEntries(p: { base: string[]; kvm: string[]; modulesDir: string; busyboxPath: string }): PlannedEntry[] {
  const inRamfs = (rel: string): string => `${INIT_MODULE_DIR}/${rel.slice(rel.lastIndexOf('/') + 1)}`;
  return [
    ...['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', 'boot-iso', 'run-iso', 'upper', 'newroot'].map((path): PlannedEntry => ({ kind: 'dir', path })),
    // the kernel opens /dev/console before /init runs, before devtmpfs is mounted
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', path: 'bin/busybox', mode: 0o755, from: p.busyboxPath },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    ...[...p.base, ...p.kvm].map((rel): PlannedEntry => ({ kind: 'file', path: inRamfs(rel).slice(1), mode: 0o644, from: join(p.modulesDir, rel) })),
    { kind: 'text', path: 'init', mode: 0o755, text: intelInitScript({ baseModules: p.base.map(inRamfs), kvmModules: p.kvm.map(inRamfs) }) },
  ];
}
