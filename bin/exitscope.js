#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm run build writes dist/; npm pack builds it first, in prepack).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  // A checkout has its TypeScript sources beside bin/; an installed package has only what it ships.
  const checkout = existsSync(new URL('../src/cli.ts', import.meta.url));
  process.stderr.write(
    checkout
      ? 'exitscope: not built yet: run `npm ci && npm run build` in the checkout\n'
      : `exitscope: this installed package has no dist/ (${fileURLToPath(new URL('..', import.meta.url))}): it was packed without its build; pack it again with \`npm pack\` (prepack builds) and reinstall\n`,
  );
  process.exit(2);
}
// A reader that goes away (`exitscope report F | head`) is not an error: stop writing, finish the
// work (recordings are flushed, `run` still exits with its command's status).
process.stdout.on('error', (e) => {
  if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
});
const { main } = await import(cli.href);
await main(process.argv);
