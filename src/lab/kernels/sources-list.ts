/**
 * apt, pointed at one Debian suite without touching the system's apt: a private sources list,
 * package lists, cache and an empty dpkg status, all under the suite's directory in exitscope's
 * cache (Dir::Etc::SourceList, Dir::State::Lists, Dir::Cache, Dir::State::status). The host's
 * /etc/apt settings that could change the choice (sources.list.d, preferences) are switched off.
 * Releases are checked against the Debian archive keyring: no `trusted=yes`.
 */
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import type { KernelSuite } from './suites.js';

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
/** The keyring Debian's debian-archive-keyring package installs (all current release keys). */
export const ARCHIVE_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
/** Another mirror of the `debian` archive (a local proxy, a closer mirror). */
export const MIRROR_ENV = 'EXITSCOPE_DEBIAN_MIRROR';

/**
 * The mirror URL from the environment, or Debian's. It goes into a sources list line, so it is
 * an http(s) URL of plain characters only: no spaces, no brackets, no line breaks.
 */
export function mirrorFrom(env: NodeJS.ProcessEnv = process.env): string {
  const value = env[MIRROR_ENV];
  if (value === undefined || value === '') return DEFAULT_MIRROR;
  if (!/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~%/+-]*)?$/.test(value))
    throw new UserError('LAB_BAD_MIRROR', `${MIRROR_ENV}=${JSON.stringify(value)} is not an http(s) URL of a Debian mirror`, `set ${MIRROR_ENV} to a URL such as ${DEFAULT_MIRROR}, or unset it`);
  return value.replace(/\/+$/, '');
}

/** The one line of the suite's private sources list. */
export function sourcesListText(suite: KernelSuite, mirror: string, keyring = ARCHIVE_KEYRING): string {
  return `# written by exitscope lab --kernel debian:${suite.name} (src/lab/kernels/sources-list.ts)\ndeb [arch=amd64 signed-by=${keyring}] ${mirror} ${suite.archiveSuite} main\n`;
}

/** Where apt keeps its state for one suite, all below `dir`. */
export interface AptDirs {
  dir: string;
  sourcesList: string;
  lists: string;
  cache: string;
  /** An empty dpkg status: the host's installed packages must not become candidates. */
  status: string;
}

export function aptDirs(dir: string): AptDirs {
  return { dir, sourcesList: join(dir, 'sources.list'), lists: join(dir, 'lists'), cache: join(dir, 'cache'), status: join(dir, 'status') };
}

/** The options that make apt-get and apt-cache use only these directories. */
export function aptOptions(d: AptDirs): string[] {
  const settings: [string, string][] = [
    ['Dir::Etc::SourceList', d.sourcesList],
    ['Dir::Etc::SourceParts', '/dev/null'],
    ['Dir::Etc::Preferences', '/dev/null'],
    ['Dir::Etc::PreferencesParts', '/dev/null'],
    ['Dir::State::Lists', d.lists],
    ['Dir::State::status', d.status],
    ['Dir::Cache', d.cache],
    ['APT::Architecture', 'amd64'],
    // the cache is root's: apt's _apt user could not write the .deb there (it warns, then runs as root anyway)
    ['APT::Sandbox::User', 'root'],
  ];
  return settings.flatMap(([k, v]) => ['-o', `${k}=${v}`]);
}
