/**
 * Where an unpacked kernel package keeps vmlinuz and its modules. Two layouts exist:
 * - single package (Debian up to 13): boot/vmlinuz-VER and lib/modules/VER (usr/lib/modules/VER
 *   after the /usr merge), with modules.builtin and modules.order in the modules directory;
 * - split packages (Debian 14, sid since 7.x), unpacked into one root: usr/lib/modules/VER holds
 *   vmlinuz (linux-binary), kernel/ with compressed modules (linux-modules) and System.map,
 *   config, modules.builtin, modules.order (linux-base).
 * Either way the result is one tree: the version, vmlinuz, and the modules directory that depmod
 * writes modules.dep into.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface FoundKernelTree {
  version: string;
  vmlinuz: string;
  modulesDir: string;
  layout: 'single' | 'split';
}

const MODULE_ROOTS = ['lib/modules', 'usr/lib/modules'] as const;

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Finds the kernel in an unpacked tree (either layout); the newest version when there are several. */
export function findKernelTree(root: string): FoundKernelTree | undefined {
  const boot = join(root, 'boot');
  if (existsSync(boot)) {
    for (const name of readdirSync(boot).sort().reverse()) {
      if (!name.startsWith('vmlinuz-')) continue;
      const version = name.slice('vmlinuz-'.length);
      for (const lib of MODULE_ROOTS) {
        const modulesDir = join(root, lib, version);
        if (existsSync(modulesDir)) return { version, vmlinuz: join(boot, name), modulesDir, layout: 'single' };
      }
    }
  }
  for (const lib of MODULE_ROOTS) {
    const dir = join(root, lib);
    if (!existsSync(dir)) continue;
    for (const version of readdirSync(dir).sort().reverse()) {
      const vmlinuz = join(dir, version, 'vmlinuz');
      if (isFile(vmlinuz)) return { version, vmlinuz, modulesDir: join(dir, version), layout: 'split' };
    }
  }
  return undefined;
}

/** The root depmod's -b takes for a modules directory: ROOT/lib/modules/VER or ROOT/usr/lib/modules/VER -> the ROOT (or ROOT/usr). */
export function depmodBase(root: string, tree: FoundKernelTree): string {
  return tree.modulesDir.startsWith(join(root, 'usr/lib/modules')) ? join(root, 'usr') : root;
}
