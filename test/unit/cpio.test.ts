import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCpio, writeCpio } from '../../src/lab/cpio.js';
import { which } from '../../src/lab/preflight.js';

const entries = [
  { kind: 'dir', path: 'bin', mode: 0o755 },
  { kind: 'file', path: 'bin/hello', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
  { kind: 'file', path: 'empty', mode: 0o644, data: Buffer.alloc(0) },
  { kind: 'file', path: 'odd', mode: 0o600, data: Buffer.from('abcde') },
  { kind: 'symlink', path: 'bin/sh', target: 'hello' },
  { kind: 'chardev', path: 'console', mode: 0o600, major: 5, minor: 1 },
] as const;

describe('writeCpio', () => {
  it('round-trips through our reader with paths, modes and sizes', () => {
    const list = readCpio(writeCpio([...entries]));
    expect(list.map((e) => e.path)).toEqual(['bin', 'bin/hello', 'empty', 'odd', 'bin/sh', 'console']);
    expect(list[1]).toMatchObject({ mode: 0o100755, size: 18 });
    expect(list[3]).toMatchObject({ mode: 0o100600, size: 5 });
    expect(list[5]?.mode).toBe(0o020600);
  });

  it('is byte-for-byte reproducible (fixed mtime), so the cache key is stable', () => {
    expect(writeCpio([...entries]).equals(writeCpio([...entries]))).toBe(true);
  });

  it('keeps every record 4-byte aligned', () => {
    expect(writeCpio([...entries]).length % 4).toBe(0);
  });

  it.skipIf(!which('cpio'))('is read by GNU cpio, the reference implementation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cpio-test-'));
    const archive = join(dir, 'a.cpio');
    writeFileSync(archive, writeCpio(entries.filter((e) => e.kind !== 'chardev')));
    execFileSync('cpio', ['-idm', '--quiet', '-F', archive], { cwd: dir });
    expect(readFileSync(join(dir, 'bin/hello'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(statSync(join(dir, 'bin/hello')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dir, 'bin/sh'))).toBe('hello');
    expect(readFileSync(join(dir, 'odd'), 'utf8')).toBe('abcde');
  });

  it('rejects an empty path and a truncated archive', () => {
    expect(() => writeCpio([{ kind: 'dir', path: '/', mode: 0o755 }])).toThrow(/empty path/);
    const buf = writeCpio([...entries]);
    expect(() => readCpio(buf.subarray(0, 200))).toThrow();
  });
});
