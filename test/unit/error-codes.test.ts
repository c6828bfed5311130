import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '../..');
const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : []));
const source = files(join(REPO, 'src')).map((f) => readFileSync(f, 'utf8')).join('\n');
const docs = readFileSync(join(REPO, 'docs/errors.md'), 'utf8');
const documented = new Set([...docs.matchAll(/^\| ([A-Z][A-Z_]+) \|/gm)].map((m) => m[1]));

// every code the source can raise, including the NO_<CHECK> codes of the required checks
const raised = new Set([
  ...[...source.matchAll(/UserError\(\s*'([A-Z_]+)'/g)].map((m) => m[1]!),
  ...[...source.matchAll(/code: '([A-Z_]+)'/g)].map((m) => m[1]!),
  ...[...source.matchAll(/name: '([^']+)',[^}]*?required: true/g)].map((m) => `NO_${m[1]!.toUpperCase().replace(/[^A-Z]+/g, '_').replace(/_$/, '')}`),
]);

it.each([...raised].sort())('%s is documented in docs/errors.md', (code) => {
  expect(documented.has(code)).toBe(true);
});

it('the source raises errors at all (the patterns above still match)', () => {
  expect(raised.size).toBeGreaterThan(20);
});
