/**
 * The CLI as bin/exitscope.js runs it, built from src/ by bundleScript: a test runs it as a real
 * process to see what a user sees (the status, stderr, a stack or an unhandled rejection).
 */
import { main } from '../../../src/cli.js';

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
});
await main(process.argv);
