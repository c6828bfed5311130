import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { imagePackageOf, kernelDownload, parseDepends, parsePackageRecords } from '../../src/lab/kernels/apt-metadata.js';
import { ARCHIVE_KEYRING, aptDirs, aptOptions, DEFAULT_MIRROR, MIRROR_ENV, mirrorFrom, sourcesListText } from '../../src/lab/kernels/sources-list.js';
import { KERNEL_SUITES, parseKernelChoice } from '../../src/lab/kernels/suites.js';

const apt = (name: string): string => readFileSync(join(import.meta.dirname, '../fixtures/apt', name), 'utf8');

describe('the suite table', () => {
  it('has the five suites of the issue, each once', () => {
    expect(KERNEL_SUITES.map((s) => s.name)).toEqual(['bullseye', 'bookworm', 'bookworm-backports', 'trixie', 'sid']);
  });

  for (const suite of KERNEL_SUITES) {
    describe(`debian:${suite.name}`, () => {
      it('is what --kernel debian:NAME picks', () => {
        expect(parseKernelChoice(`debian:${suite.name}`)).toEqual({ kind: 'suite', suite });
      });
      it('reads its own archive suite, and says what it is', () => {
        expect(suite.archiveSuite).toBe(suite.name);
        expect(suite.release).toMatch(/^Debian /);
        expect(suite.seen).toMatch(/^\d+\.\d+/);
      });
      it('gets one signed sources line for its suite, main only, amd64', () => {
        const lines = sourcesListText(suite, DEFAULT_MIRROR)
          .split('\n')
          .filter((l) => l.length > 0 && !l.startsWith('#'));
        expect(lines).toEqual([`deb [arch=amd64 signed-by=${ARCHIVE_KEYRING}] ${DEFAULT_MIRROR} ${suite.archiveSuite} main`]);
      });
    });
  }

  it('refuses an unknown suite, naming every known one', () => {
    const err = (() => {
      try {
        parseKernelChoice('debian:buster');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('LAB_UNKNOWN_SUITE');
    for (const s of KERNEL_SUITES) expect((err as UserError).fix).toContain(`debian:${s.name}`);
  });

  it('takes anything else as a path, as before', () => {
    expect(parseKernelChoice('/tmp/linux-image-6.1.0-9-amd64.deb')).toEqual({ kind: 'path', path: '/tmp/linux-image-6.1.0-9-amd64.deb' });
    expect(parseKernelChoice('debian')).toEqual({ kind: 'path', path: 'debian' });
  });
});

describe('the private apt', () => {
  it('keeps every state directory below the suite directory and switches off the host sources and pins', () => {
    const d = aptDirs('/c/kernels/debian-sid/apt');
    const opts = aptOptions(d);
    const settings = new Map<string, string>();
    for (let i = 0; i < opts.length; i += 2) {
      expect(opts[i]).toBe('-o');
      const [k, v] = (opts[i + 1] ?? '').split('=');
      settings.set(k ?? '', v ?? '');
    }
    for (const k of ['Dir::Etc::SourceList', 'Dir::State::Lists', 'Dir::Cache', 'Dir::State::status']) expect(settings.get(k)?.startsWith('/c/kernels/debian-sid/apt/')).toBe(true);
    for (const k of ['Dir::Etc::SourceParts', 'Dir::Etc::Preferences', 'Dir::Etc::PreferencesParts']) expect(settings.get(k)).toBe('/dev/null');
    expect([...settings.values()].some((v) => v.startsWith('/etc/apt'))).toBe(false);
  });

  it('takes a mirror from EXITSCOPE_DEBIAN_MIRROR, and only a plain http(s) URL', () => {
    expect(mirrorFrom({})).toBe(DEFAULT_MIRROR);
    expect(mirrorFrom({ [MIRROR_ENV]: 'http://127.0.0.1:3142/debian/' })).toBe('http://127.0.0.1:3142/debian');
    expect(mirrorFrom({ [MIRROR_ENV]: 'https://ftp.de.debian.org/debian' })).toBe('https://ftp.de.debian.org/debian');
    // each of these would change the sources list (a second line, options, another archive type)
    for (const bad of ['http://x/debian sid main\ndeb http://evil/ sid', 'http://x/debian [trusted=yes]', 'file:///srv/debian', 'ftp://x/debian', 'http://x/ debian'])
      expect(() => mirrorFrom({ [MIRROR_ENV]: bad })).toThrow(expect.objectContaining({ code: 'LAB_BAD_MIRROR' }));
  });
});

describe("apt's package records", () => {
  it('parses Depends into alternative groups without versions', () => {
    expect(parseDepends('dracut | initramfs-tools (>= 0.120+deb8u2), linux-base-7 (= 7.2.13-1)')).toEqual([['dracut', 'initramfs-tools'], ['linux-base-7']]);
    expect(parseDepends('')).toEqual([]);
  });

  it("bullseye: linux-image-amd64 names 5.10.0-32, one package holding the kernel", () => {
    const [meta] = parsePackageRecords(apt('bullseye.linux-image-amd64.txt'));
    expect(meta).toMatchObject({ package: 'linux-image-amd64', version: '5.10.223-1' });
    expect(imagePackageOf(meta!)).toBe('linux-image-5.10.0-32-amd64');
    const [image] = parsePackageRecords(apt('bullseye.linux-image-5.10.0-32-amd64.txt'));
    expect(kernelDownload(image!)).toEqual({ image: 'linux-image-5.10.0-32-amd64', version: '5.10.223-1', layout: 'single', packages: ['linux-image-5.10.0-32-amd64=5.10.223-1'] });
  });

  it('sid: the image is a metapackage over its split parts, which are downloaded instead', () => {
    const [meta] = parsePackageRecords(apt('sid.linux-image-amd64.txt'));
    // linux-image-amd64 also depends on linux-base-amd64: the versioned image is the one picked
    expect(imagePackageOf(meta!)).toBe('linux-image-7.2.13+deb14-amd64');
    const [image] = parsePackageRecords(apt('sid.linux-image-7.2.13+deb14-amd64.txt'));
    expect(kernelDownload(image!)).toEqual({
      image: 'linux-image-7.2.13+deb14-amd64',
      version: '7.2.13-1',
      layout: 'split',
      packages: ['linux-binary-7.2.13+deb14-amd64=7.2.13-1', 'linux-modules-7.2.13+deb14-amd64=7.2.13-1', 'linux-base-7.2.13+deb14-amd64=7.2.13-1'],
    });
  });

  it('refuses a split image that lacks one of its parts', () => {
    const [image] = parsePackageRecords(apt('sid.linux-image-7.2.13+deb14-amd64.txt').replace('linux-modules-7.2.13+deb14-amd64 (= 7.2.13-1)', 'other'));
    expect(() => kernelDownload(image!)).toThrow(/linux-modules-7\.2\.13\+deb14-amd64/);
  });

  it('reads continuation lines and several records', () => {
    const recs = parsePackageRecords('Package: a\nVersion: 1\nDepends: b,\n c\n\nPackage: d\nVersion: 2\n');
    expect(recs).toEqual([
      { package: 'a', version: '1', depends: [['b'], ['c']] },
      { package: 'd', version: '2', depends: [] },
    ]);
  });
});
