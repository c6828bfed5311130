/**
 * Builds a userland root with debootstrap, once per suite and recipe, into the exitscope cache:
 * into a temporary directory beside the final one, renamed into place only when debootstrap
 * succeeded, so a root in the cache is always complete (an interrupted build leaves only a
 * temporary directory, removed by the next build).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../../errors.js';
import { mirrorFrom } from '../kernels/sources-list.js';
import { which } from '../preflight.js';
import { type UserlandSuite, userlandPackages } from './suites.js';

/** The mirror: the one `--kernel debian:SUITE` uses (EXITSCOPE_DEBIAN_MIRROR, checked, or deb.debian.org). */
export { mirrorFrom as debianMirror } from '../kernels/sources-list.js';

/** Bump when the way a root is built changes, so that cached roots of the old recipe are not used. */
export const RECIPE_VERSION = 1;

export interface DebootstrapPlan {
  suite: string;
  variant: 'minbase';
  packages: string[];
  /** Final directory of the root in the cache. */
  target: string;
  /** Where debootstrap builds it (renamed to target on success). */
  building: string;
  /** debootstrap's .deb cache, shared by every suite: a failed build does not download again. */
  debCache: string;
  mirror: string;
  argv: string[];
}

/**
 * The cache key: the suite and a hash of what is in the root (variant, packages, recipe version).
 * The mirror is not in it: the same suite from another mirror is the same root.
 */
export function userlandKey(suite: UserlandSuite): string {
  const recipe = JSON.stringify({ v: RECIPE_VERSION, suite: suite.name, variant: 'minbase', packages: userlandPackages(suite), arch: 'amd64' });
  return `${suite.name}-${createHash('sha256').update(recipe).digest('hex').slice(0, 12)}`;
}

/** The cache's userland directory. */
export function userlandsDir(cache: string): string {
  return join(cache, 'userlands');
}

export function planDebootstrap(suite: UserlandSuite, cache: string, mirror: string, pid = process.pid): DebootstrapPlan {
  const dir = userlandsDir(cache);
  const key = userlandKey(suite);
  const target = join(dir, key);
  const building = join(dir, `.building-${key}-${pid}`);
  const debCache = join(dir, 'debs');
  const packages = userlandPackages(suite);
  return {
    suite: suite.name,
    variant: 'minbase',
    packages,
    target,
    building,
    debCache,
    mirror,
    argv: ['--variant=minbase', '--arch=amd64', '--components=main', `--include=${packages.join(',')}`, `--cache-dir=${debCache}`, suite.name, building, mirror],
  };
}

/** What a failed debootstrap said, turned into the error a user can act on. */
export function debootstrapError(plan: DebootstrapPlan, status: number | null, output: string, log: string): UserError {
  const text = `${output}\n${log}`;
  const tail = output.split('\n').filter((l) => l.trim().length > 0).slice(-8).map((l) => `    ${l}`).join('\n');
  if (/Failed getting release file|Couldn't download|Could not resolve|Temporary failure resolving|Connection refused|Failed to connect|No route to host|unable to resolve host/i.test(text))
    return new UserError(
      'USERLAND_MIRROR',
      `debootstrap could not reach the Debian mirror ${plan.mirror} for ${plan.suite}:\n${tail}`,
      'check the network (curl -sI ' + `${plan.mirror}/dists/${plan.suite}/Release), or point EXITSCOPE_DEBIAN_MIRROR at a mirror you can reach`,
    );
  if (/Release signed by unknown key|invalid signature|NO_PUBKEY|EXPKEYSIG/i.test(text))
    return new UserError(
      'USERLAND_KEYRING',
      `debootstrap could not verify ${plan.suite}'s Release file with this host's Debian keyring:\n${tail}`,
      'apt-get install debian-archive-keyring (a newer one knows the newer keys: from bookworm-backports or the next release)',
    );
  return new UserError(
    'USERLAND_BUILD_FAILED',
    `debootstrap of ${plan.suite} failed (${status === null ? 'killed' : `status ${status}`}):\n${tail}`,
    `read ${join(dirname(plan.target), `${plan.suite}-debootstrap.log`)}; retry (downloaded packages are kept)`,
  );
}

/** debootstrap's lines about each package: shown one per 10 s, the others as they come. */
const PER_PACKAGE = /^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) (?!the base|required|packages|Release|Packages|InRelease)/;

export interface BuildResult {
  root: string;
  reused: boolean;
}

/**
 * The root for SUITE: the cached one, or a new one built now (minutes: progress lines come
 * through `progress`). Needs root (debootstrap chroots and makes device nodes).
 */
export async function ensureUserland(suite: UserlandSuite, o: { cache: string; mirror?: string; progress: (line: string) => void; path?: string }): Promise<BuildResult> {
  const plan = planDebootstrap(suite, o.cache, o.mirror ?? mirrorFrom());
  if (existsSync(join(plan.target, 'usr', 'bin'))) return { root: plan.target, reused: true };
  // debootstrap lives in /usr/sbin, which a user's PATH may lack
  const debootstrap = which('debootstrap', o.path ?? `${process.env.PATH ?? ''}:/usr/sbin:/sbin`);
  if (!debootstrap)
    throw new UserError('USERLAND_NO_DEBOOTSTRAP', `--userland ${suite.name} builds a ${suite.release} root with debootstrap, which is not installed`, 'apt-get install debootstrap');
  const dir = userlandsDir(o.cache);
  mkdirSync(plan.debCache, { recursive: true });
  removeStaleBuilds(dir);
  o.progress(`userland ${suite.name}: building with debootstrap from ${plan.mirror} (once; a few minutes, ~1 GB): ${plan.packages.join(', ')}`);
  const { status, output } = await run(debootstrap, plan.argv, o.progress);
  if (status !== 0) {
    const logFile = join(plan.building, 'debootstrap', 'debootstrap.log');
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    writeFileSync(join(dir, `${suite.name}-debootstrap.log`), `${output}\n--- debootstrap.log ---\n${log}`);
    rmSync(plan.building, { recursive: true, force: true });
    throw debootstrapError(plan, status, output, log);
  }
  try {
    renameSync(plan.building, plan.target);
  } catch (e) {
    // another exitscope built the same root meanwhile: use theirs
    rmSync(plan.building, { recursive: true, force: true });
    if (!existsSync(join(plan.target, 'usr', 'bin'))) throw e;
  }
  o.progress(`userland ${suite.name}: built (${plan.target})`);
  return { root: plan.target, reused: false };
}

/** Temporary roots of builds whose process is gone (a build killed half way). */
function removeStaleBuilds(dir: string): void {
  for (const name of readdirSync(dir)) {
    const m = /^\.building-.+-(\d+)$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && existsSync(`/proc/${pid}`)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
  }
}

function run(cmd: string, argv: string[], progress: (line: string) => void): Promise<{ status: number | null; output: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' } });
    const lines: string[] = [];
    let lastPackageLine = 0;
    let skipped = 0;
    const onData = (() => {
      let buf = '';
      return (d: Buffer): void => {
        buf += d.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trimEnd();
          buf = buf.slice(nl + 1);
          lines.push(line);
          if (lines.length > 400) lines.shift();
          if (PER_PACKAGE.test(line)) {
            const now = Date.now();
            if (now - lastPackageLine < 10_000) {
              skipped++;
              continue;
            }
            lastPackageLine = now;
            progress(`  debootstrap: ${line.slice(3)}${skipped ? ` (+${skipped} more)` : ''}`);
            skipped = 0;
          } else if (/^[IWE]: /.test(line)) progress(`  debootstrap: ${line}`);
        }
      };
    })();
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('close', (status) => resolveRun({ status, output: lines.join('\n') }));
  });
}
