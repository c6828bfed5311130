/**
 * Builds a TypeScript script (and the src/ code it imports) into one Node file, so a test can run
 * it as a real process: signal handling and process death can only be tested from outside.
 * Node 20 cannot run .ts itself, and dist/ may be stale or half-built.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build, type Plugin } from 'esbuild';

/**
 * Optional imports a bundle never runs, given as empty modules: ink loads react-devtools-core (not
 * installed) only when DEV=true.
 */
const stubs: Plugin = {
  name: 'never-loaded',
  setup(b) {
    b.onResolve({ filter: /^react-devtools-core$/ }, (a) => ({ path: a.path, namespace: 'never-loaded' }));
    b.onLoad({ filter: /.*/, namespace: 'never-loaded' }, () => ({ contents: 'export default undefined;', loader: 'js' }));
  },
};

/** The bundle's path; remove it with removeBundle. (Not named exitscope-*: tests count those temp dirs.) */
export async function bundleScript(entry: string): Promise<string> {
  const outfile = join(mkdtempSync(join(tmpdir(), 'test-bundle-')), 'script.mjs');
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'error',
    plugins: [stubs],
    // bundled CommonJS dependencies call require(): give the ESM bundle one
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return outfile;
}

export function removeBundle(file: string | undefined): void {
  if (file) rmSync(dirname(file), { recursive: true, force: true });
}
