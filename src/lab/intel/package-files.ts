/**
 * What of this exitscope the Intel lab's guest needs: its package.json, bin/, dist/, the static
 * workload, probes/, and the production dependencies it loads (found the way Node finds them:
 * node_modules/NAME in the requiring package's directory or above). Not the dev dependencies: a
 * checkout's node_modules is mostly those. They go on the run ISO at the same host paths, so the
 * guest commands (../guest-commands.ts) work unchanged.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { workloadPath } from '../workload.js';

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function readPackage(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** node_modules/NAME from `from` upwards, as Node resolves a bare import. */
export function resolvePackageDir(name: string, from: string, exists: (p: string) => boolean = existsSync): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (exists(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The directories of every production dependency, transitively. A missing required dependency is
 * an error (the package would not run); a missing optional or peer one is skipped, as npm does.
 */
export function productionDependencyDirs(root: string, read: (dir: string) => PackageJson = readPackage, exists: (p: string) => boolean = existsSync): string[] {
  const found = new Set<string>();
  const queue: string[] = [root];
  while (queue.length > 0) {
    const dir = queue.shift() as string;
    const pkg = read(dir);
    const wants: [string, boolean][] = [
      ...Object.keys(pkg.dependencies ?? {}).map((n): [string, boolean] => [n, true]),
      ...Object.keys(pkg.optionalDependencies ?? {}).map((n): [string, boolean] => [n, false]),
      ...Object.keys(pkg.peerDependencies ?? {}).map((n): [string, boolean] => [n, false]),
    ];
    for (const [name, required] of wants) {
      const at = resolvePackageDir(name, dir, exists);
      if (!at) {
        if (required) throw new Error(`${name} (needed by ${dir}) is not installed: run npm ci`);
        continue;
      }
      if (found.has(at)) continue;
      found.add(at);
      queue.push(at);
    }
  }
  return withoutNested([...found]);
}

/** Drops paths inside another path of the list (a package's own node_modules come with it). */
export function withoutNested(paths: string[]): string[] {
  const sorted = [...new Set(paths)].sort();
  const kept: string[] = [];
  for (const p of sorted) if (!kept.some((k) => p.startsWith(k + sep))) kept.push(p);
  return kept;
}

/** Host paths (files and directories) of this exitscope that the guest needs. */
export function packageFiles(root: string, exists: (p: string) => boolean = existsSync): string[] {
  const own = ['package.json', 'bin', 'dist', 'probes'].map((p) => join(root, p)).filter((p) => exists(p));
  const workload = workloadPath(root);
  if (!exists(workload)) throw new Error(`${workload} is missing: build it (npm run build; workloads/build.sh needs gcc and libc6-dev)`);
  return withoutNested([...own, workload, ...productionDependencyDirs(root, readPackage, exists)]);
}
