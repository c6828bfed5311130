/**
 * Unpacks kernel packages into one tree (a single linux-image package, or a split kernel's
 * parts), finds the kernel in it (layout.ts) and writes modules.dep with depmod. The tree
 * appears at its final path only once complete (built beside it, then renamed), so an
 * interrupted unpack is never taken for a kernel.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { UserError } from '../../errors.js';
import { depmodBase, findKernelTree } from './layout.js';

const run = promisify(execFile);

export async function unpackKernel(debs: readonly string[], into: string): Promise<void> {
  const tmp = `${into}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const deb of debs) {
    await run('dpkg-deb', ['-x', deb, tmp]).catch((e: unknown) => {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      if (err.code === 'ENOENT') throw new UserError('LAB_NO_TOOL', 'no dpkg-deb to unpack the kernel package', 'apt-get install dpkg');
      throw new UserError('LAB_BAD_KERNEL', `${basename(deb)} could not be unpacked: ${(err.stderr ?? String(e)).trim().split('\n').pop()}`, 'pass a Debian linux-image-*-amd64 package (or remove a damaged download from ~/.cache/exitscope)');
    });
  }
  const tree = findKernelTree(tmp);
  if (!tree)
    throw new UserError(
      'LAB_BAD_KERNEL',
      `${debs.map((d) => basename(d)).join(', ')}: no kernel inside (neither boot/vmlinuz-* with lib/modules/VER, nor usr/lib/modules/VER/vmlinuz)`,
      'pass a Debian linux-image-*-amd64 package to --kernel, or --kernel debian:SUITE',
    );
  await run('depmod', ['-b', depmodBase(tmp, tree), tree.version]).catch((e: unknown) => {
    throw new UserError('LAB_NO_DEPMOD', `depmod failed: ${String(e)}`, 'apt-get install kmod');
  });
  rmSync(into, { recursive: true, force: true });
  renameSync(tmp, into);
}
