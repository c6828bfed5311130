import { homedir } from 'node:os';
import { join } from 'node:path';

/** $XDG_CACHE_HOME/exitscope, or ~/.cache/exitscope: downloaded kernels and built initramfs files. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0 ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'exitscope');
}

/** The checkout's root (this file is src/lab/paths.ts, compiled to dist/src/lab/paths.js). */
export function repoRoot(): string {
  return join(new URL('.', import.meta.url).pathname, '..', '..', '..');
}
