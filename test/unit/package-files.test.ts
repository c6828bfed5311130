/**
 * What `npm pack` ships: only what runs, everything the entry points need, under the README's
 * size budget. The list is npm's own (`npm pack --dry-run --json`, without prepack: the build is
 * already there, as in CI); the import graph is esbuild's, from the shipped dist/src/cli.js.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix } from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/lab/paths.js';

const REPO = repoRoot();

interface PackJson {
  size: number;
  unpackedSize: number;
  files: { path: string; size: number; mode: number }[];
}
interface PackageJson {
  private?: boolean;
  bin: Record<string, string>;
  files: string[];
  scripts: Record<string, string>;
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as PackageJson;

/** The only shapes a shipped file may have. */
const SHIPPED = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^bin\/exitscope\.js$/,
  /^dist\/(src|ui)\/.+\.js$/,
  /^dist\/bundles\/[\w-]+\.(js|css)$/,
  /^build\/exitscope-workload$/,
  /^probes\/[\w-]+\.bt$/,
];

/** The budget as the README states it: "Size budget: at most X MB packed and Y MB unpacked". */
function readmeBudget(): { packed: number; unpacked: number } {
  const m = /Size budget: at most ([\d.]+) MB packed and ([\d.]+) MB unpacked/.exec(readFileSync(join(REPO, 'README.md'), 'utf8'));
  if (!m) throw new Error('README.md states no "Size budget: at most X MB packed and Y MB unpacked"');
  return { packed: Number(m[1]) * 1e6, unpacked: Number(m[2]) * 1e6 };
}

const PT_INTERP = 3;

/** The p_type of each program header of a 64-bit little-endian ELF file. */
function programHeaderTypes(elf: Buffer): number[] {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  return Array.from({ length: elf.readUInt16LE(0x38) }, (_, i) => elf.readUInt32LE(phoff + i * phentsize));
}

/** A bare import's package name: "react/jsx-runtime" → "react", "@a/b/c" → "@a/b". */
function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec);
}

let pack: PackJson;
let paths: Set<string>;

beforeAll(() => {
  if (!existsSync(join(REPO, 'dist/src/cli.js'))) throw new Error('no dist/: run `npm run build` before this test');
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--loglevel=error'], { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack --dry-run failed (${r.status}): ${r.stderr}`);
  pack = (JSON.parse(r.stdout) as PackJson[])[0] as PackJson;
  paths = new Set(pack.files.map((f) => f.path));
}, 60_000);

describe('npm pack', () => {
  it('ships only what runs: each file has one of the allowed shapes', () => {
    expect(pack.files.length).toBeGreaterThan(50);
    expect(pack.files.map((f) => f.path).filter((p) => !SHIPPED.some((re) => re.test(p)))).toEqual([]);
  });

  it('ships no tests, benchmarks, docs, sources, fixtures, source maps or perf.data', () => {
    const unwanted = [...paths].filter(
      (p) =>
        /^(test|bench|docs|scripts|src|ui|web|workloads|\.ci)\//.test(p) ||
        /^dist\/(test|web)\//.test(p) ||
        /fixtures|\.map$|\.tsx?$|\.png$|(^|\/)perf\.data/.test(p),
    );
    expect(unwanted).toEqual([]);
  });

  it('is a package to install (not private), built by prepack, for Node >= 20.19', () => {
    expect(pkg.private).toBeUndefined();
    expect(pkg.scripts.prepack).toBe('npm run build');
    expect(pkg.scripts.build).toContain('workloads/build.sh');
    expect(pkg.engines.node).toBe('>=20.19');
  });

  it('ships every bin target, executable: exitscope and exitscope-workload', () => {
    expect(Object.keys(pkg.bin).sort()).toEqual(['exitscope', 'exitscope-workload']);
    for (const target of Object.values(pkg.bin)) {
      const f = pack.files.find((x) => x.path === target);
      expect(f, target).toBeDefined();
      expect((f?.mode ?? 0) & 0o111, target).not.toBe(0);
    }
    // The workload is the static binary workloads/build.sh makes: it runs on any x86-64 libc.
    const elf = readFileSync(join(REPO, pkg.bin['exitscope-workload'] ?? ''));
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(programHeaderTypes(elf).length).toBeGreaterThan(0);
    expect(programHeaderTypes(elf), 'a dynamic binary has a PT_INTERP (its loader)').not.toContain(PT_INTERP);
  });

  it("ships what bin/exitscope.js loads and every file of the CLI's import graph; bare imports are dependencies", async () => {
    const bin = readFileSync(join(REPO, 'bin/exitscope.js'), 'utf8');
    const loaded = [...bin.matchAll(/new URL\('(\.\.\/dist\/[^']+)'/g)].map((m) => posix.join('bin', m[1] ?? ''));
    expect(loaded).toEqual(['dist/src/cli.js']);
    for (const p of loaded) expect(paths.has(p), p).toBe(true);

    const result = await build({
      entryPoints: [join(REPO, 'dist/src/cli.js')],
      absWorkingDir: REPO,
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.length).toBeGreaterThan(50);
    expect(inputs.filter((p) => !paths.has(p))).toEqual([]);

    const bare = new Set(
      Object.values(result.metafile.inputs)
        .flatMap((i) => i.imports)
        .filter((i) => i.external)
        .map((i) => i.path),
    );
    const builtins = new Set(builtinModules);
    const packages = [...bare].filter((s) => !s.startsWith('node:') && !builtins.has(s)).map(packageName);
    expect(packages.length).toBeGreaterThan(3);
    expect([...new Set(packages)].filter((p) => !(p in pkg.dependencies))).toEqual([]);
  });

  it('ships the web bundles the shipped code reads (readPageBundle)', () => {
    const names = new Set<string>();
    for (const p of paths) {
      if (!p.endsWith('.js') || !p.startsWith('dist/src/')) continue;
      for (const m of readFileSync(join(REPO, p), 'utf8').matchAll(/readPageBundle\('([\w-]+)'\)/g)) names.add(m[1] ?? '');
    }
    expect([...names].sort()).toEqual(['flame-page', 'live-page']);
    for (const n of names) expect(paths.has(`dist/bundles/${n}.js`), n).toBe(true);
  });

  it('stays under the size budget the README states', () => {
    const budget = readmeBudget();
    process.stdout.write(`npm pack: ${pack.files.length} files, ${(pack.size / 1e6).toFixed(2)} MB packed, ${(pack.unpackedSize / 1e6).toFixed(2)} MB unpacked\n`);
    expect(pack.size).toBeLessThanOrEqual(budget.packed);
    expect(pack.unpackedSize).toBeLessThanOrEqual(budget.unpacked);
  });
});
