import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** $XDG_CACHE_HOME/exitscope, or ~/.cache/exitscope: downloaded kernels and built initramfs files. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0 ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'exitscope');
}

/**
 * exitscope's root: the nearest directory above this file with exitscope's package.json (src/ or dist/src/):
 * the checkout, or the installed package (PREFIX/lib/node_modules/exitscope), which ships bin/, dist/ and build/.
 */
export function repoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'exitscope') return dir;
    if (dirname(dir) === dir) throw new Error(`no exitscope package.json above ${from}`);
  }
}
