/**
 * fetchSuiteKernel's decisions with apt-get and apt-cache replaced by scripts on PATH (unit level:
 * the real apt against the real mirror is the lab run quoted in docs/lab.md): lists refreshed or
 * not, a cached tree reused, the mirror unreachable (with and without a cached tree), a Release
 * file the keyring does not verify, two labs fetching the same suite at once.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchSuiteKernel, LISTS_MAX_AGE_MS, treeDirName } from '../../src/lab/kernels/fetch-suite.js';
import { KERNEL_SUITES } from '../../src/lab/kernels/suites.js';

const fixtures = join(import.meta.dirname, '../fixtures/apt');
const bullseye = KERNEL_SUITES.find((s) => s.name === 'bullseye')!;
const bin = mkdtempSync(join(tmpdir(), 'fake-apt-'));
const calls = join(bin, 'calls.log');
const savedPath = process.env.PATH;

/** apt-get: `update` behaves as $FAKE_UPDATE says (ok | unreachable | unsigned); apt-cache show: the fixtures. */
function fakeApt(): void {
  writeFileSync(
    join(bin, 'apt-get'),
    `#!/bin/sh
echo "apt-get $*" >> ${calls}
for a in "$@"; do last=$a; done
case "$*" in
  *update*)
    case "$FAKE_UPDATE" in
      unreachable) echo "E: Failed to fetch http://deb.debian.org/debian/dists/bullseye/InRelease  Could not resolve 'deb.debian.org'" >&2; exit 100 ;;
      slow) echo "update-start" >> ${calls}; sleep 0.5; echo "update-end" >> ${calls}; exit 0 ;;
      unsigned) echo "W: GPG error: http://deb.debian.org/debian bullseye InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 0123456789ABCDEF" >&2; exit 100 ;;
      *) exit 0 ;;
    esac ;;
esac
exit 1
`,
  );
  writeFileSync(
    join(bin, 'apt-cache'),
    `#!/bin/sh
echo "apt-cache $*" >> ${calls}
for a in "$@"; do last=$a; done
case "$last" in
  linux-image-amd64) cat ${fixtures}/bullseye.linux-image-amd64.txt ;;
  linux-image-5.10.0-32-amd64) cat ${fixtures}/bullseye.linux-image-5.10.0-32-amd64.txt ;;
esac
`,
  );
  chmodSync(join(bin, 'apt-get'), 0o755);
  chmodSync(join(bin, 'apt-cache'), 0o755);
}

/** A ready tree (vmlinuz + modules.dep) as the cache would hold it. */
function cachedTree(cache: string, dirName: string): void {
  const root = join(cache, 'kernels/debian-bullseye', dirName);
  mkdirSync(join(root, 'boot'), { recursive: true });
  writeFileSync(join(root, 'boot/vmlinuz-5.10.0-32-amd64'), 'vmlinuz');
  mkdirSync(join(root, 'lib/modules/5.10.0-32-amd64'), { recursive: true });
  writeFileSync(join(root, 'lib/modules/5.10.0-32-amd64/modules.dep'), '');
}

const log = (): string[] => readFileSync(calls, 'utf8').trim().split('\n');

beforeAll(() => {
  fakeApt();
  process.env.PATH = `${bin}:${savedPath ?? ''}`;
});
afterAll(() => {
  process.env.PATH = savedPath;
  delete process.env.FAKE_UPDATE;
});

describe('fetchSuiteKernel', () => {
  it('reads the lists, then takes the tree already unpacked for that package version', async () => {
    writeFileSync(calls, '');
    process.env.FAKE_UPDATE = 'ok';
    const cache = mkdtempSync(join(tmpdir(), 'cache-'));
    cachedTree(cache, treeDirName('linux-image-5.10.0-32-amd64', '5.10.223-1'));
    const lines: string[] = [];
    const k = await fetchSuiteKernel({ cache, suite: bullseye, progress: (l) => lines.push(l) });
    expect(k).toMatchObject({ version: '5.10.0-32-amd64', image: 'linux-image-5.10.0-32-amd64', packageVersion: '5.10.223-1', from: 'cache', layout: 'single' });
    expect(lines).toEqual(['reading the bullseye package lists from http://deb.debian.org/debian']);
    expect(log().filter((l) => l.includes(' update'))).toHaveLength(1);
    expect(log().some((l) => l.includes(' download'))).toBe(false);
    // every apt call used the suite's own directories
    for (const l of log()) expect(l).toContain(`Dir::Etc::SourceList=${join(cache, 'kernels/debian-bullseye/apt/sources.list')}`);
    expect(readFileSync(join(cache, 'kernels/debian-bullseye/apt/sources.list'), 'utf8')).toContain(' bullseye main');

    // lists younger than a day: no update the second time
    writeFileSync(calls, '');
    await fetchSuiteKernel({ cache, suite: bullseye, progress: () => undefined });
    expect(log().some((l) => l.includes(' update'))).toBe(false);
    // older: read again
    const stamp = join(cache, 'kernels/debian-bullseye/apt/updated');
    const old = (Date.now() - LISTS_MAX_AGE_MS - 60_000) / 1000;
    utimesSync(stamp, old, old);
    writeFileSync(calls, '');
    await fetchSuiteKernel({ cache, suite: bullseye, progress: () => undefined });
    expect(log().filter((l) => l.includes(' update'))).toHaveLength(1);
  });

  it('mirror unreachable, nothing cached: LAB_SUITE_UNREACHABLE with apt\'s words and the fix', async () => {
    process.env.FAKE_UPDATE = 'unreachable';
    const cache = mkdtempSync(join(tmpdir(), 'cache-'));
    const err = await fetchSuiteKernel({ cache, suite: bullseye, progress: () => undefined }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LAB_SUITE_UNREACHABLE', message: expect.stringContaining("Could not resolve 'deb.debian.org'") });
    expect((err as { fix: string }).fix).toContain('EXITSCOPE_DEBIAN_MIRROR');
  });

  it('mirror unreachable, a tree cached: that tree, and a line that says so', async () => {
    process.env.FAKE_UPDATE = 'unreachable';
    const cache = mkdtempSync(join(tmpdir(), 'cache-'));
    cachedTree(cache, 'linux-image-5.10.0-31-amd64_5.10.221-1');
    const lines: string[] = [];
    const k = await fetchSuiteKernel({ cache, suite: bullseye, progress: (l) => lines.push(l) });
    expect(k).toMatchObject({ image: 'linux-image-5.10.0-31-amd64', packageVersion: '5.10.221-1', from: 'cache' });
    expect(lines.at(-1)).toMatch(/^the mirror did not answer .*; using linux-image-5\.10\.0-31-amd64_5\.10\.221-1, unpacked earlier$/);
  });

  it('a Release file the keyring cannot verify: LAB_SUITE_UNVERIFIED, never a fallback to unsigned', async () => {
    process.env.FAKE_UPDATE = 'unsigned';
    const cache = mkdtempSync(join(tmpdir(), 'cache-'));
    cachedTree(cache, 'linux-image-5.10.0-31-amd64_5.10.221-1');
    const err = await fetchSuiteKernel({ cache, suite: bullseye, progress: () => undefined }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LAB_SUITE_UNVERIFIED', message: expect.stringContaining('NO_PUBKEY') });
    expect(readFileSync(join(cache, 'kernels/debian-bullseye/apt/sources.list'), 'utf8')).not.toContain('trusted');
  });

  it('two labs fetching the same suite at once: one reads the lists, the other waits for it, then finds them fresh', async () => {
    writeFileSync(calls, '');
    process.env.FAKE_UPDATE = 'slow';
    const cache = mkdtempSync(join(tmpdir(), 'cache-'));
    cachedTree(cache, treeDirName('linux-image-5.10.0-32-amd64', '5.10.223-1'));
    const [a, b] = await Promise.all([1, 2].map(() => fetchSuiteKernel({ cache, suite: bullseye, progress: () => undefined })));
    expect(a).toMatchObject({ packageVersion: '5.10.223-1', from: 'cache' });
    expect(b).toEqual(a);
    // never two apt runs on the same lists: the second found them fresh
    expect(log().filter((l) => l.startsWith('update-'))).toEqual(['update-start', 'update-end']);
  });
});
