// Bundles the browser code (web/) with esbuild into dist/bundles: one JS and one CSS
// file per page, inlined into the pages exitscope writes, so they work offline.
import { build } from 'esbuild';

await build({
  entryPoints: ['web/flame-page.ts', 'web/live-page.ts'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir: 'dist/bundles',
  logLevel: 'warning',
  legalComments: 'eof',
});
