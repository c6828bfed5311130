/**
 * What a command loads when it starts. Every module loaded is CPU at every start: natively a few
 * tenths of a second, in the Intel lab (Bochs) about a minute. The packages below are loaded only
 * by the commands that use them (imported in an action or behind an option), never by `run`,
 * `flame` or `--version`. The graph is the sources' static imports (`import ... from`, not
 * `import type` and not `await import(...)`), so a new static import of one of them fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');

/** Packages reached from ENTRY through static imports, each with the file that imports it. */
function staticPackages(entry: string): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm)) {
      const spec = m[1] as string;
      if (spec.startsWith('node:')) continue;
      if (!spec.startsWith('.')) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
        if (!packages.has(name)) packages.set(name, file.slice(ROOT.length + 1));
        continue;
      }
      const base = resolve(dirname(file), spec).replace(/\.js$/, '');
      const next = ['.ts', '.tsx'].map((x) => base + x).find((f) => existsSync(f));
      if (!next) throw new Error(`${file}: cannot resolve ${spec}`);
      visit(next);
    }
  };
  visit(join(ROOT, entry));
  return packages;
}

const HEAVY = ['execa', 'zod', 'ws', 'prom-client', 'ink', 'react'];

describe('what a start loads', () => {
  it.each([
    ['src/cli.ts', 'the command line itself (--version, --help, parsing)'],
    ['src/commands/run.ts', 'exitscope run'],
    ['src/commands/flame.ts', 'exitscope flame'],
  ])('%s (%s) loads none of the heavy packages statically', (entry) => {
    const reached = staticPackages(entry);
    const heavy = HEAVY.filter((p) => reached.has(p)).map((p) => `${p} (imported by ${reached.get(p)})`);
    expect(heavy).toEqual([]);
  });

  it('the walk sees them where they are imported (the check above can fail)', () => {
    const serve = staticPackages('src/server/start.ts');
    for (const p of ['ws', 'prom-client', 'zod']) expect(serve.has(p), p).toBe(true);
    expect(staticPackages('src/scope/spawn-in-cgroup.ts').has('execa')).toBe(true);
  });
});
