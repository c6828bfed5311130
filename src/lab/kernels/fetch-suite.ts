/**
 * `--kernel debian:SUITE`: the suite's current linux-image-amd64, resolved with a private apt
 * (sources-list.ts), downloaded once and unpacked into the cache, one tree per suite and
 * package version: kernels/debian-SUITE/<image>_<version>/. The package lists are refreshed at
 * most once a day (LISTS_MAX_AGE_MS); when the mirror cannot be reached, the newest tree already
 * unpacked for the suite is used, and said so.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UserError } from '../../errors.js';
import { withCacheLock } from '../cache-lock.js';
import { imagePackageOf, kernelDownload, type KernelDownload, parsePackageRecords } from './apt-metadata.js';
import { findKernelTree, type FoundKernelTree } from './layout.js';
import { ARCHIVE_KEYRING, aptDirs, type AptDirs, aptOptions, MIRROR_ENV, mirrorFrom, sourcesListText } from './sources-list.js';
import { KERNEL_METAPACKAGE, type KernelSuite } from './suites.js';
import { unpackKernel } from './unpack.js';

const run = promisify(execFile);

/** Lists younger than this are used as they are: a boot does not wait for the mirror every time. */
export const LISTS_MAX_AGE_MS = 24 * 3600 * 1000;
const STAMP = 'updated';

export interface SuiteKernel extends FoundKernelTree {
  /** linux-image-VER and its package version, for the progress line and docs. */
  image: string;
  packageVersion: string;
  from: 'cache' | 'download';
}

/** The directory of one unpacked kernel: the image package and version, in file-name characters. */
export function treeDirName(image: string, version: string): string {
  return `${image}_${version}`.replace(/[^A-Za-z0-9.+_-]/g, '_');
}

function readyTree(dir: string): FoundKernelTree | undefined {
  const tree = findKernelTree(dir);
  return tree && existsSync(join(tree.modulesDir, 'modules.dep')) ? tree : undefined;
}

/** The newest tree already unpacked for the suite (by the time it was unpacked). */
function newestCached(suiteDir: string): { name: string; tree: FoundKernelTree } | undefined {
  if (!existsSync(suiteDir)) return undefined;
  const found = readdirSync(suiteDir)
    .filter((n) => n.startsWith('linux-image-') && !n.endsWith('.partial'))
    .map((name) => ({ name, tree: readyTree(join(suiteDir, name)), mtime: statSync(join(suiteDir, name)).mtimeMs }))
    .filter((x): x is { name: string; tree: FoundKernelTree; mtime: number } => x.tree !== undefined)
    .sort((a, b) => b.mtime - a.mtime);
  return found[0];
}

function lastLine(e: unknown): string {
  const text = ((e as { stderr?: string }).stderr ?? String(e)).trim();
  const lines = text.split('\n').filter((l) => /^(E|W|Err):/.test(l));
  return (lines.length ? lines : text.split('\n')).slice(-2).join(' / ');
}

async function updateLists(suite: KernelSuite, d: AptDirs): Promise<void> {
  const res = await run('apt-get', [...aptOptions(d), '-q', 'update']).catch((e: unknown) => {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new UserError('LAB_NO_TOOL', 'no apt-get to fetch the kernel with', 'run exitscope lab on Debian (or Ubuntu) with apt, or pass --kernel PATH to a linux-image .deb');
    return { stdout: '', stderr: err.stderr ?? String(e), failed: true };
  });
  const stderr = res.stderr ?? '';
  if (/NO_PUBKEY|signatures couldn't be verified|not signed|is not signed/.test(stderr))
    throw new UserError(
      'LAB_SUITE_UNVERIFIED',
      `the ${suite.archiveSuite} release file could not be verified with ${ARCHIVE_KEYRING}: ${lastLine(res)}`,
      'install the current Debian archive keyring (apt-get install debian-archive-keyring, from the newest release or its backports), then retry',
    );
  if ('failed' in res || /^(E|W): Failed to fetch/m.test(stderr))
    throw new UserError(
      'LAB_SUITE_UNREACHABLE',
      `apt could not read ${suite.archiveSuite} from ${mirrorFrom()}: ${lastLine(res)}`,
      `check the network (the lab needs the Debian mirror once per suite and day), or set ${MIRROR_ENV} to a reachable mirror, or pass --kernel PATH to a .deb`,
    );
  writeFileSync(join(d.dir, STAMP), `${new Date().toISOString()}\n`);
}

async function showRecord(d: AptDirs, pkg: string): Promise<ReturnType<typeof parsePackageRecords>[number] | undefined> {
  const out = await run('apt-cache', [...aptOptions(d), 'show', '--no-all-versions', pkg], { maxBuffer: 16 * 1024 * 1024 }).then(
    (r) => r.stdout,
    () => '',
  );
  return parsePackageRecords(out).find((r) => r.package === pkg);
}

/** What the suite's lists say to download now. */
async function currentDownload(suite: KernelSuite, d: AptDirs): Promise<KernelDownload> {
  const meta = await showRecord(d, KERNEL_METAPACKAGE);
  const image = meta ? imagePackageOf(meta) : undefined;
  const imageRecord = image ? await showRecord(d, image) : undefined;
  if (!meta || !image || !imageRecord)
    throw new UserError(
      'LAB_NO_KERNEL_PACKAGE',
      `the ${suite.archiveSuite} lists have no ${meta ? image ?? `package ${KERNEL_METAPACKAGE} depends on` : KERNEL_METAPACKAGE}`,
      `retry later (the mirror may be updating), or set ${MIRROR_ENV} to another mirror, or pass --kernel PATH`,
    );
  try {
    return kernelDownload(imageRecord);
  } catch (e) {
    throw new UserError('LAB_BAD_KERNEL', (e as Error).message, 'pass --kernel PATH to an unpacked tree of that kernel (see docs/lab.md)');
  }
}

async function download(d: AptDirs, plan: KernelDownload, into: string, progress: (msg: string) => void): Promise<void> {
  const debs = join(d.dir, 'debs');
  rmSync(debs, { recursive: true, force: true });
  mkdirSync(debs, { recursive: true });
  progress(`downloading ${plan.packages.join(' ')} (once; 50-130 MB)`);
  await run('apt-get', [...aptOptions(d), '-q', 'download', ...plan.packages], { cwd: debs, maxBuffer: 16 * 1024 * 1024 }).catch((e: unknown) => {
    throw new UserError('LAB_SUITE_UNREACHABLE', `apt-get download ${plan.packages.join(' ')} failed: ${lastLine(e)}`, `check the network, or set ${MIRROR_ENV} to another mirror, or pass --kernel PATH`);
  });
  const files = readdirSync(debs).filter((n) => n.endsWith('.deb')).map((n) => join(debs, n));
  if (files.length !== plan.packages.length) throw new UserError('LAB_NO_KERNEL_PACKAGE', `apt-get download wrote ${files.length} of ${plan.packages.length} packages`, 'retry; or pass --kernel PATH');
  progress(`unpacking ${plan.image} ${plan.version}${plan.layout === 'split' ? ' (split packages)' : ''}`);
  await unpackKernel(files, into);
  rmSync(debs, { recursive: true, force: true });
}

export async function fetchSuiteKernel(opts: { cache: string; suite: KernelSuite; progress: (msg: string) => void; now?: number }): Promise<SuiteKernel> {
  const suiteDir = join(opts.cache, 'kernels', `debian-${opts.suite.name}`);
  mkdirSync(suiteDir, { recursive: true });
  // one exitscope at a time per suite: apt's lists, the downloads and the unpack share this directory
  const waiting = (): void => opts.progress(`waiting for another exitscope that is fetching the ${opts.suite.name} kernel (${suiteDir}.lock)`);
  return withCacheLock(`${suiteDir}.lock`, { waiting }, () => fetchLocked(opts, suiteDir));
}

async function fetchLocked(opts: { suite: KernelSuite; progress: (msg: string) => void; now?: number }, suiteDir: string): Promise<SuiteKernel> {
  const { suite, progress } = opts;
  const d = aptDirs(join(suiteDir, 'apt'));
  mkdirSync(join(d.lists, 'partial'), { recursive: true });
  mkdirSync(join(d.cache, 'archives', 'partial'), { recursive: true });
  if (!existsSync(ARCHIVE_KEYRING))
    throw new UserError('LAB_SUITE_UNVERIFIED', `no Debian archive keyring at ${ARCHIVE_KEYRING} to check the ${suite.name} packages with`, 'apt-get install debian-archive-keyring');
  writeFileSync(d.sourcesList, sourcesListText(suite, mirrorFrom()));
  if (!existsSync(d.status)) writeFileSync(d.status, '');

  const stamp = join(d.dir, STAMP);
  const fresh = existsSync(stamp) && (opts.now ?? Date.now()) - statSync(stamp).mtimeMs < LISTS_MAX_AGE_MS;
  if (!fresh) {
    progress(`reading the ${suite.name} package lists from ${mirrorFrom()}`);
    try {
      await updateLists(suite, d);
    } catch (e) {
      const cached = newestCached(suiteDir);
      if (!cached || !(e instanceof UserError) || e.code !== 'LAB_SUITE_UNREACHABLE') throw e;
      progress(`the mirror did not answer (${e.message}); using ${cached.name}, unpacked earlier`);
      return { ...cached.tree, ...splitName(cached.name), from: 'cache' };
    }
  }
  const plan = await currentDownload(suite, d);
  const into = join(suiteDir, treeDirName(plan.image, plan.version));
  const cached = readyTree(into);
  if (cached) return { ...cached, image: plan.image, packageVersion: plan.version, from: 'cache' };
  await download(d, plan, into, progress);
  const tree = readyTree(into);
  if (!tree) throw new UserError('LAB_BAD_KERNEL', `${plan.image} unpacked without modules.dep`, 'apt-get install kmod, then retry');
  return { ...tree, image: plan.image, packageVersion: plan.version, from: 'download' };
}

function splitName(dirName: string): { image: string; packageVersion: string } {
  const at = dirName.indexOf('_');
  return at < 0 ? { image: dirName, packageVersion: '?' } : { image: dirName.slice(0, at), packageVersion: dirName.slice(at + 1) };
}
