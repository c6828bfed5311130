/**
 * Checks before the Intel lab boots, each failing with its fix, and the guest's boot errors
 * mapped to fixes. Bochs' display (rfb, the only one Debian's build can run without a screen)
 * listens on the first free TCP port of 5900-5949 on every address: the lab runs Bochs in a
 * network namespace of its own, where that port touches nothing; where namespaces are not
 * allowed, a free port in the range is needed, and the display is reachable while the lab runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { UserError } from '../../errors.js';
import { which } from '../preflight.js';
import { BOCHS_ROM, BOCHS_VGA_ROM } from './bochsrc.js';

export const ISOLINUX_BIN = '/usr/lib/ISOLINUX/isolinux.bin';
export const LDLINUX_C32 = '/usr/lib/syslinux/modules/bios/ldlinux.c32';

/** The port range Bochs' rfb display tries, in order (bochs 2.7 gui/rfb.h BX_RFB_PORT_MIN/MAX). */
export const RFB_PORTS = { first: 5900, last: 5949 } as const;

export function requireBochs(path?: string): string {
  const bochs = which('bochs-bin', path) ?? which('bochs', path);
  if (!bochs) throw new UserError('LAB_NO_BOCHS', 'Bochs is not installed (the Intel lab emulates VMX with Bochs: QEMU TCG cannot)', 'apt-get install bochs bochsbios vgabios (Debian 12: bochs 2.7, built with VMX and EPT)');
  return bochs;
}

/** Files the lab reads: the BIOSes Bochs boots and isolinux for the boot ISO. */
export function requireIntelFiles(exists: (p: string) => boolean = existsSync): void {
  const files: [string, string][] = [
    [BOCHS_ROM, 'bochsbios'],
    [BOCHS_VGA_ROM, 'vgabios'],
    [ISOLINUX_BIN, 'isolinux'],
    [LDLINUX_C32, 'syslinux-common'],
  ];
  for (const [file, pkg] of files) if (!exists(file)) throw new UserError('LAB_NO_TOOL', `${file} is missing`, `apt-get install ${pkg}`);
}

export function requireIntelTools(path?: string): void {
  for (const [cmd, pkg] of [['xorriso', 'xorriso'], ['tar', 'tar'], ['dpkg-deb', 'dpkg'], ['depmod', 'kmod']] as const) {
    if (!which(cmd, path)) throw new UserError('LAB_NO_TOOL', `${cmd} is not installed`, `apt-get install ${pkg}`);
  }
}

export function requireBpftrace(path?: string): string {
  const b = which('bpftrace', path);
  if (!b) throw new UserError('LAB_NO_TOOL', 'bpftrace is not installed (the Intel lab carries the host\'s bpftrace into the guest)', 'apt-get install bpftrace');
  return b;
}

/** How Bochs' display is kept from clashing with another lab's: a namespace, or a free port. */
export type DisplayIsolation = { kind: 'netns'; unshare: string } | { kind: 'port'; port: number };

/** Whether `unshare --net` works here (root, and a kernel and container that allow it). */
export function netnsWorks(unshare: string): boolean {
  try {
    execFileSync(unshare, ['--net', 'true'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

export async function displayIsolation(path?: string, free: (port: number) => Promise<boolean> = portFree): Promise<DisplayIsolation> {
  const unshare = which('unshare', path);
  if (unshare && netnsWorks(unshare)) return { kind: 'netns', unshare };
  for (let port = RFB_PORTS.first; port <= RFB_PORTS.last; port++) if (await free(port)) return { kind: 'port', port };
  throw new UserError(
    'LAB_PORT_IN_USE',
    `Bochs' display needs a free TCP port in ${RFB_PORTS.first}-${RFB_PORTS.last}, and all are taken (and no network namespace can be made here to hide it)`,
    `stop what listens there (ss -ltnp 'sport >= :${RFB_PORTS.first} and sport <= :${RFB_PORTS.last}'), or run the lab where \`unshare --net\` works (as root, outside a restricted container)`,
  );
}

/** Maps an "error CODE message" event from the guest's /init to an error with its fix. */
export function intelGuestError(code: string, message: string, consoleTail: string): UserError {
  const tail = consoleTail ? `\n  guest console (last lines):\n${consoleTail.replace(/^/gm, '    ')}` : '';
  switch (code) {
    case 'novmx':
      return new UserError('LAB_NO_VMX', `the emulated CPU has no VMX, so kvm_intel cannot load (${message})`, "use Debian 12's bochs 2.7 (built with VMX and EPT) and drop --cpu, or pass a Bochs model with VMX (corei7_skylake_x)");
    case 'nokvm':
      return new UserError('LAB_NO_KVM', `KVM did not come up in the guest: ${message}${tail}`, 'use a Debian kernel with kvm_intel as a module (the default), or pass --kernel with one');
    case 'media':
      return new UserError('LAB_GUEST_FAILED', `the guest could not read its CD-ROMs or disk: ${message}${tail}`, 'a kernel with ata_piix, sr_mod, sd_mod and isofs as modules (Debian\'s); see ~/.cache/exitscope/lab/last-console.log');
    case 'copyback':
      return new UserError('LAB_COPY_BACK', `${message}${tail}`, 'write less into the current directory (the copy-back disk holds 2 GB), or write elsewhere in the guest');
    default:
      return new UserError('LAB_GUEST_FAILED', `the guest failed during boot (${code}): ${message}${tail}`, 'see ~/.cache/exitscope/lab/last-console.log');
  }
}
