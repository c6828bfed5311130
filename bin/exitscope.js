#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm run build writes dist/).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('exitscope: not built yet: run `npm ci && npm run build` in the checkout\n');
  process.exit(2);
}
// A reader that goes away (`exitscope report F | head`) is not an error: stop writing, finish the
// work (recordings are flushed, `run` still exits with its command's status).
process.stdout.on('error', (e) => {
  if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
});
const { main } = await import(cli.href);
await main(process.argv);
