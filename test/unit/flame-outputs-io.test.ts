/** Flame files against a failing disk: /dev/full stands in for the temporary file's device (ENOSPC). */
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { writeAllAtomic } from '../../src/flame/outputs.js';

const caught = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('writeAllAtomic on a full disk', () => {
  it.runIf(existsSync('/dev/full'))('ENOSPC is FLAME_WRITE with the reason and a fix; every temporary is removed, nothing is in place', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flame-full-'));
    // the temporaries are created where they belong, but their bytes go to /dev/full
    const onFullDisk = (tmp: string): number => {
      closeSync(openSync(tmp, 'wx'));
      return openSync('/dev/full', 'w');
    };
    const e = caught(() => writeAllAtomic([[join(dir, 'a.folded'), 'x 1\n'], [join(dir, 'a.svg'), '<svg/>']], onFullDisk));
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe('FLAME_WRITE');
    expect((e as UserError).message).toMatch(/a\.folded: no space left on the device \(ENOSPC\); nothing was written/);
    expect((e as UserError).fix).toMatch(/free space/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a link planted at a temporary name is never written through (O_EXCL), and the files still land', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flame-link-'));
    const victim = join(dir, 'victim');
    // every name the writer could pick cannot be guessed; plant one at the old predictable name anyway
    symlinkSync(victim, join(dir, `a.folded.${process.pid}.tmp`));
    writeAllAtomic([[join(dir, 'a.folded'), 'x 1\n']]);
    expect(readFileSync(join(dir, 'a.folded'), 'utf8')).toBe('x 1\n');
    expect(existsSync(victim)).toBe(false);
  });
});
