import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatUserError, UserError } from '../../src/errors.js';
import { guestError, requireFreePorts, requireQemu, requireRoot, requireStaticBusybox, requireTools, which } from '../../src/lab/preflight.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof UserError ? e.code : `not a UserError: ${String(e)}`;
  }
  return undefined;
}

describe('preflight', () => {
  const empty = mkdtempSync(join(tmpdir(), 'empty-path-'));

  it('finds executables on PATH only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'path-'));
    writeFileSync(join(dir, 'tool'), '#!/bin/sh\n');
    writeFileSync(join(dir, 'plain'), '');
    chmodSync(join(dir, 'tool'), 0o755);
    expect(which('tool', dir)).toBe(join(dir, 'tool'));
    expect(which('plain', dir)).toBeUndefined();
    expect(which('tool', empty)).toBeUndefined();
  });

  it('names the package to install for each missing tool', () => {
    const err = (() => {
      try {
        requireQemu(empty);
      } catch (e) {
        return e as UserError;
      }
    })();
    expect(err?.code).toBe('LAB_NO_QEMU');
    expect(err?.fix).toBe('apt-get install qemu-system-x86');
    expect(codeOf(() => requireTools(empty))).toBe('LAB_NO_TOOL');
  });

  it('wants root, and says how', () => {
    expect(codeOf(() => requireRoot(1000))).toBe('LAB_NOT_ROOT');
    expect(codeOf(() => requireRoot(0))).toBeUndefined();
  });

  it('accepts a static busybox and refuses a dynamic one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bb-'));
    const dynamic = join(dir, 'dyn');
    const fixed = join(dir, 'static');
    writeFileSync(dynamic, Buffer.concat([Buffer.from('\x7fELF....'), Buffer.from('/lib64/ld-linux-x86-64.so.2')]));
    writeFileSync(fixed, Buffer.from('\x7fELF.... no interpreter here'));
    expect(requireStaticBusybox([dynamic, fixed])).toBe(fixed);
    expect(codeOf(() => requireStaticBusybox([dynamic, join(dir, 'missing')]))).toBe('LAB_NO_BUSYBOX');
  });

  it('reports a forwarded port that is taken, with another to try', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const err = await requireFreePorts([{ hostPort: port, guestPort: 80 }]).catch((e: unknown) => e as UserError);
    server.close();
    expect(err?.code).toBe('LAB_PORT_IN_USE');
    expect(err?.message).toContain(`127.0.0.1:${port} is already in use`);
    expect(err?.fix).toContain(`--forward ${port + 1}:80`);
    await expect(requireFreePorts([{ hostPort: port, guestPort: 80 }])).resolves.toBeUndefined();
  });

  it.each([
    ['nosvm', 'LAB_NO_SVM'],
    ['nokvm', 'LAB_NO_KVM'],
    ['hostfs', 'LAB_NO_HOSTFS'],
    ['writable', 'LAB_WRITABLE'],
    ['something-new', 'LAB_GUEST_FAILED'],
  ])('maps the guest error %s to %s with a fix', (code, want) => {
    const e = guestError(code, 'details', 'console line');
    expect(e.code).toBe(want);
    expect(e.fix.length).toBeGreaterThan(10);
    expect(formatUserError(e)).toMatch(new RegExp(`^exitscope: error \\[${want}\\]: .*details[\\s\\S]*\\n  fix: `));
  });
});
