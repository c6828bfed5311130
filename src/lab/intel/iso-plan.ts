/**
 * What goes on the Intel lab's two CD-ROMs, as data (iso-build.ts writes them with xorriso):
 *
 *   boot ISO (built once per kernel and tool set, cached):
 *     /isolinux/  isolinux.bin, ldlinux.c32, isolinux.cfg (the kernel command line)
 *     /boot/      vmlinuz, initrd.img (intel/initramfs.ts)
 *     /rootfs/    node, bpftrace, perf and their ldd closures at their host paths, mount points, /etc/passwd
 *   run ISO (one per run, small):
 *     /root/run/exitscope-lab/  config, run.sh, bin/exitscope, bin/exitscope-workload
 *     /root/<exitscope's root>/ this exitscope (package-files.ts) at its host path
 *     /root/<cwd>/              a copy of the current directory
 *
 * /init stacks /root over /rootfs (overlayfs), so each file appears at its host path.
 */
import { sep } from 'node:path';
import { GUEST_CTL } from './serial-protocol.js';
import { ROOT_DIRS, ROOT_ETC, type RootFile } from './rootfs.js';

export type IsoEntry =
  /** A host file or directory (copied whole) at `target`. */
  | { kind: 'graft'; target: string; source: string }
  | { kind: 'text'; target: string; text: string; mode: number }
  | { kind: 'dir'; target: string };

export interface IsoPlan {
  entries: IsoEntry[];
  /** El Torito boot with isolinux (the boot ISO only). */
  bootable: boolean;
}

/**
 * Kernel command line: quiet (the serial port is slow under Bochs), no KASLR, no mitigations (speed),
 * and tsc=unstable: the kernel takes the TSC's frequency from the emulated Skylake's nominal 3500 MHz,
 * but Bochs' TSC advances far slower, so on the TSC a guest second lasted 45-60 host seconds (every
 * timer, sleep and bpftrace interval with it). On HPET, Bochs' 100 MHz counter, a `sleep 1` took
 * about a second (2026-11-28).
 */
export const INTEL_KERNEL_APPEND = ['console=ttyS0', 'quiet', 'nokaslr', 'mitigations=off', 'tsc=unstable'] as const;

export function isolinuxCfg(): string {
  return ['DEFAULT lab', 'PROMPT 0', 'TIMEOUT 0', 'LABEL lab', '  KERNEL /boot/vmlinuz', `  APPEND initrd=/boot/initrd.img ${INTEL_KERNEL_APPEND.join(' ')}`, ''].join('\n');
}

export interface BootIsoInput {
  vmlinuz: string;
  initramfs: string;
  /** isolinux.bin and ldlinux.c32 (Debian: isolinux, syslinux-common). */
  isolinuxBin: string;
  ldlinux: string;
  /** node, bpftrace, perf and their libraries (rootfs.ts). */
  rootFiles: RootFile[];
}

export function planBootIso(i: BootIsoInput): IsoPlan {
  return {
    bootable: true,
    entries: [
      { kind: 'graft', target: '/isolinux/isolinux.bin', source: i.isolinuxBin },
      { kind: 'graft', target: '/isolinux/ldlinux.c32', source: i.ldlinux },
      { kind: 'text', target: '/isolinux/isolinux.cfg', text: isolinuxCfg(), mode: 0o644 },
      { kind: 'graft', target: '/boot/vmlinuz', source: i.vmlinuz },
      { kind: 'graft', target: '/boot/initrd.img', source: i.initramfs },
      ...ROOT_DIRS.map((d): IsoEntry => ({ kind: 'dir', target: `/rootfs/${d}` })),
      ...ROOT_ETC.map((e): IsoEntry => ({ kind: 'text', target: `/rootfs${e.target}`, text: e.text, mode: 0o644 })),
      ...i.rootFiles.map((f): IsoEntry => ({ kind: 'graft', target: `/rootfs${f.target}`, source: f.source })),
    ],
  };
}

export interface RunIsoInput {
  /** /init's config (sourced by sh). */
  config: string;
  /** The script the guest runs (../boot.ts runScript). */
  runScript: string;
  /** The guest commands (exitscope, exitscope-workload), put first on the guest's PATH. */
  commands: { name: string; script: string }[];
  /** This exitscope's files and directories (package-files.ts), at their host paths. */
  packagePaths: string[];
  /** The command's directory (a host path): it exists in the guest at the same path. */
  cwd: string;
  /** Copy its contents in (else it is an empty directory there). */
  copyCwd: boolean;
}

const inside = (path: string, dir: string): boolean => path === dir || (dir === '/' ? true : path.startsWith(dir + sep));

export function planRunIso(i: RunIsoInput): IsoPlan {
  if (!i.cwd.startsWith('/')) throw new Error(`planRunIso: not an absolute path: ${i.cwd}`);
  // the root itself is never copied (it would be the whole host)
  const cwd = i.copyCwd && i.cwd !== '/' ? i.cwd : undefined;
  // the current directory is copied whole: package files inside it come with it
  const packagePaths = cwd === undefined ? i.packagePaths : i.packagePaths.filter((p) => !inside(p, cwd));
  // a current directory inside exitscope's files (e.g. its dist/) is on the ISO already
  const cwdOnIso = cwd !== undefined && packagePaths.some((p) => inside(cwd, p));
  return {
    bootable: false,
    entries: [
      { kind: 'text', target: `/root${GUEST_CTL}/config`, text: i.config, mode: 0o644 },
      { kind: 'text', target: `/root${GUEST_CTL}/run.sh`, text: i.runScript, mode: 0o644 },
      ...i.commands.map((c): IsoEntry => ({ kind: 'text', target: `/root${GUEST_CTL}/bin/${c.name}`, text: c.script, mode: 0o755 })),
      ...packagePaths.map((p): IsoEntry => ({ kind: 'graft', target: `/root${p}`, source: p })),
      ...(cwd !== undefined && !cwdOnIso ? [{ kind: 'graft', target: `/root${cwd}`, source: cwd } as IsoEntry] : []),
      ...(cwd === undefined && i.cwd !== '/' ? [{ kind: 'dir', target: `/root${i.cwd}` } as IsoEntry] : []),
    ],
  };
}
