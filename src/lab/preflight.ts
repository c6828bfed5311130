/**
 * Checks before the lab boots, each failing with the fix in its message.
 * The checks that can only be made inside the guest (SVM, /dev/kvm) come back
 * as events from /init and are mapped by `guestError`.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { UserError } from '../errors.js';
import type { Forward } from './qemu-args.js';

export function which(cmd: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function requireRoot(uid = process.getuid?.() ?? 0): void {
  if (uid !== 0)
    throw new UserError(
      'LAB_NOT_ROOT',
      'exitscope lab must run as root: the guest sees the host root through QEMU, which reads it with your rights, and the guest runs its commands as root',
      'run it as root, e.g. `sudo exitscope lab ...`',
    );
}

export function requireQemu(path?: string): string {
  const qemu = which('qemu-system-x86_64', path);
  if (!qemu) throw new UserError('LAB_NO_QEMU', 'qemu-system-x86_64 is not installed', 'apt-get install qemu-system-x86');
  return qemu;
}

/** busybox must be statically linked: the initramfs has no C library. */
export function requireStaticBusybox(candidates = ['/bin/busybox', '/usr/bin/busybox']): string {
  for (const p of candidates) {
    try {
      const head = readFileSync(p).subarray(0, 1 << 20);
      // A dynamically linked ELF names its interpreter (PT_INTERP "/lib64/ld-linux...").
      if (!head.includes(Buffer.from('/lib64/ld-linux')) && !head.includes(Buffer.from('/lib/ld-linux'))) return p;
    } catch {
      // try the next one
    }
  }
  throw new UserError('LAB_NO_BUSYBOX', 'no statically linked busybox found (/bin/busybox)', 'apt-get install busybox-static');
}

export function requireTools(path?: string): void {
  for (const [cmd, pkg] of [['dpkg-deb', 'dpkg'], ['depmod', 'kmod']] as const) {
    if (!which(cmd, path)) throw new UserError('LAB_NO_TOOL', `${cmd} is not installed`, `apt-get install ${pkg}`);
  }
}

/** A forwarded host port must be free before QEMU tries to listen on it. */
export async function requireFreePorts(forwards: Forward[]): Promise<void> {
  for (const f of forwards) {
    await new Promise<void>((resolve, reject) => {
      const server = createServer();
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new UserError(
            'LAB_PORT_IN_USE',
            `host port 127.0.0.1:${f.hostPort} is ${e.code === 'EACCES' ? 'not allowed' : 'already in use'} (--forward ${f.hostPort}:${f.guestPort})`,
            `pick another host port, e.g. --forward ${f.hostPort + 1}:${f.guestPort}, or stop what listens there (ss -ltnp 'sport = :${f.hostPort}')`,
          ),
        ),
      );
      server.listen(f.hostPort, '127.0.0.1', () => server.close(() => resolve()));
    });
  }
}

/** Maps an "error CODE message" event from the guest's /init to an error with its fix. */
export function guestError(code: string, message: string, consoleTail: string): UserError {
  const tail = consoleTail ? `\n  guest console (last lines):\n${consoleTail.replace(/^/gm, '    ')}` : '';
  switch (code) {
    case 'nosvm':
      return new UserError(
        'LAB_NO_SVM',
        `the emulated CPU has no SVM, so kvm_amd cannot load (${message})`,
        'drop --cpu (the default EPYC,+svm,+npt has it) or add +svm to your model; QEMU emulates SVM under TCG, not VMX',
      );
    case 'nokvm':
      return new UserError('LAB_NO_KVM', `KVM did not come up in the guest: ${message}${tail}`, 'use a Debian kernel with kvm_amd as a module (the default), or pass --kernel with one');
    case 'hostfs':
      return new UserError('LAB_NO_HOSTFS', `the guest could not mount the host's root: ${message}${tail}`, "check that QEMU was built with virtfs (Debian's qemu-system-x86 is)");
    case 'writable':
      return new UserError('LAB_WRITABLE', `${message}${tail}`, 'pass an existing directory to --writable');
    default:
      return new UserError('LAB_GUEST_FAILED', `the guest failed during boot (${code}): ${message}${tail}`, 'see the console log named above; run with --verbose for the whole console');
  }
}
