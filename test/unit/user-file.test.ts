import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { writeUserFile } from '../../src/io/user-file.js';

describe('a whole file the user named (run --report-file, summaries)', () => {
  it('is written whole', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'exitscope-uf-')), 'report.txt');
    const text = 'x'.repeat(200_000);
    writeUserFile(path, text, 'REPORT_WRITE', '--report-file');
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it.each([
    ['/dev/full', /ENOSPC/],
    [join(tmpdir(), 'no-such-dir-exitscope', 'r.txt'), /ENOENT|no such file/i],
  ])('%s: a UserError with the code, the reason and a fix naming the option, not a stack', (path, reason) => {
    let caught: unknown;
    try {
      writeUserFile(path, 'report\n', 'REPORT_WRITE', '--report-file');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UserError);
    const e = caught as UserError;
    expect(e.code).toBe('REPORT_WRITE');
    expect(e.message).toContain(path);
    expect(e.message).toMatch(reason);
    expect(e.fix).toContain('--report-file');
  });
});
