/**
 * A temporary directory of the test file's own, as TMPDIR while its tests run: code under test
 * that makes temporary directories makes them there, so a check that it removed them counts only
 * its own (other exitscope processes on the machine, another test run, a lab, make and remove
 * theirs in the shared one at any time).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export function usePrivateTmpdir(prefix: string): void {
  const shared = process.env.TMPDIR;
  let mine = '';
  beforeAll(() => {
    mine = mkdtempSync(join(tmpdir(), prefix));
    process.env.TMPDIR = mine;
  });
  afterAll(() => {
    if (shared === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = shared;
    rmSync(mine, { recursive: true, force: true });
  });
}
