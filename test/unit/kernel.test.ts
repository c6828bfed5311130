import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { findKernelTree, kernelPackageFromDepends, resolveKernel } from '../../src/lab/kernel.js';

describe('kernelPackageFromDepends', () => {
  it('reads the versioned package from apt-cache depends', () => {
    const text = 'linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n';
    expect(kernelPackageFromDepends(text)).toBe('linux-image-6.1.0-56-amd64');
  });
  it('returns undefined when apt knows no such package', () => {
    expect(kernelPackageFromDepends('')).toBeUndefined();
    expect(kernelPackageFromDepends('W: Unable to locate package linux-image-amd64')).toBeUndefined();
  });
});

function tree(version: string, withDep: boolean): string {
  const root = mkdtempSync(join(tmpdir(), 'ktree-'));
  mkdirSync(join(root, 'boot'));
  writeFileSync(join(root, 'boot', `vmlinuz-${version}`), 'kernel');
  mkdirSync(join(root, 'lib/modules', version), { recursive: true });
  if (withDep) writeFileSync(join(root, 'lib/modules', version, 'modules.dep'), '');
  return root;
}

describe('findKernelTree', () => {
  it('finds vmlinuz and the matching modules directory', () => {
    const root = tree('6.1.0-9-amd64', true);
    expect(findKernelTree(root)).toEqual({
      version: '6.1.0-9-amd64',
      vmlinuz: join(root, 'boot/vmlinuz-6.1.0-9-amd64'),
      modulesDir: join(root, 'lib/modules/6.1.0-9-amd64'),
      layout: 'single',
    });
  });
  it('returns undefined for a directory that is not a kernel tree', () => {
    expect(findKernelTree(mkdtempSync(join(tmpdir(), 'empty-')))).toBeUndefined();
  });
});

describe('resolveKernel with --kernel', () => {
  const cache = mkdtempSync(join(tmpdir(), 'cache-'));
  const progress = (): void => undefined;

  it('uses an unpacked tree as it is', async () => {
    const root = tree('6.1.0-9-amd64', true);
    await expect(resolveKernel({ cache, kernel: root, progress })).resolves.toMatchObject({ version: '6.1.0-9-amd64', source: '--kernel' });
  });

  it('explains a tree without modules.dep, with the depmod command', async () => {
    const root = tree('6.1.0-9-amd64', false);
    const err = await resolveKernel({ cache, kernel: root, progress }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('LAB_BAD_KERNEL');
    expect((err as UserError).fix).toContain('depmod -b');
  });

  it('explains a path that does not exist', async () => {
    const err = await resolveKernel({ cache, kernel: '/no/such/kernel.deb', progress }).catch((e: unknown) => e);
    expect((err as UserError).code).toBe('LAB_NO_KERNEL');
  });
});
