/**
 * The Debian suites `exitscope lab --kernel debian:SUITE` knows: where each one's
 * linux-image-amd64 lives on the mirror. A table, one row per suite; a test checks every row
 * (test/unit/kernel-suites.test.ts). The kernel versions in `seen` are what the suite served when
 * the row was checked (docs/lab.md), not a pin: the mirror's current package is used.
 */
import { UserError } from '../../errors.js';

export interface KernelSuite {
  /** The name after `debian:`. */
  name: string;
  /** What it is, for the help text and errors. */
  release: string;
  /**
   * The archive suite its kernel comes from, in the mirror's `debian` archive: the suite itself,
   * not its -security or -updates companions (a point release's kernel: the same for every run).
   */
  archiveSuite: string;
  /** The kernel it served when this row was last checked in the lab (docs/lab.md). */
  seen: string;
}

export const KERNEL_SUITES: readonly KernelSuite[] = [
  { name: 'bullseye', release: 'Debian 11', archiveSuite: 'bullseye', seen: '5.10.223 (linux-image-5.10.0-32-amd64)' },
  { name: 'bookworm', release: 'Debian 12', archiveSuite: 'bookworm', seen: '6.1.176 (linux-image-6.1.0-50-amd64)' },
  // a backports suite alone: its packages are NotAutomatic, so the version is chosen explicitly (apt-metadata.ts)
  { name: 'bookworm-backports', release: 'Debian 12 backports', archiveSuite: 'bookworm-backports', seen: '6.12.95 (linux-image-6.12.95+deb12-amd64)' },
  { name: 'trixie', release: 'Debian 13', archiveSuite: 'trixie', seen: '6.12.117 (linux-image-6.12.117+deb13-amd64)' },
  // split kernel packages (linux-binary-*, linux-modules-*, linux-base-*), compressed modules
  { name: 'sid', release: 'Debian unstable', archiveSuite: 'sid', seen: '7.2.13 (linux-image-7.2.13+deb14-amd64)' },
];

/** The metapackage whose dependency names a suite's current kernel. */
export const KERNEL_METAPACKAGE = 'linux-image-amd64';

/** The prefix of a suite in --kernel. */
export const SUITE_PREFIX = 'debian:';

/** What --kernel names: a Debian suite, or a path (.deb or unpacked tree). */
export type KernelChoice = { kind: 'suite'; suite: KernelSuite } | { kind: 'path'; path: string };

/** Reads --kernel: `debian:SUITE` is a suite of the table (an unknown one is an error naming them all), anything else a path. */
export function parseKernelChoice(value: string): KernelChoice {
  if (!value.startsWith(SUITE_PREFIX)) return { kind: 'path', path: value };
  const name = value.slice(SUITE_PREFIX.length);
  const suite = KERNEL_SUITES.find((s) => s.name === name);
  if (!suite)
    throw new UserError(
      'LAB_UNKNOWN_SUITE',
      `--kernel ${JSON.stringify(value)}: exitscope knows no Debian suite ${JSON.stringify(name)}`,
      `one of: ${KERNEL_SUITES.map((s) => `${SUITE_PREFIX}${s.name} (${s.release})`).join(', ')}; or --kernel PATH to a linux-image .deb or unpacked tree`,
    );
  return { kind: 'suite', suite };
}
