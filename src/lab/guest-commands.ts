/**
 * The commands the lab puts first on the guest's PATH: `exitscope` and `exitscope-workload`, this
 * very copy of them, wherever it lives on the host (a checkout, or an installed package in any npm
 * prefix). Each is a small sh script in the ctl share (GUEST_BIN), not a symlink: a script also
 * names the host's node binary (the guest's standard PATH may not hold it: /opt, nvm), and it needs
 * no `bin/exitscope` symlink, which npm pack does not ship.
 * The guest sees the host's root at the same paths, so the absolute paths below hold there.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { workloadPath } from './workload.js';

/** Where the ctl share's bin/ is in the guest (boot.ts mounts the ctl share at /run/exitscope-lab). */
export const GUEST_BIN = '/run/exitscope-lab/bin';

export interface GuestCommand {
  name: string;
  script: string;
}

/** What the scripts run: host paths, which the guest sees unchanged. */
export interface GuestCommandTargets {
  /** The node binary that runs exitscope. */
  node: string;
  /** exitscope's bin/exitscope.js. */
  cli: string;
  /** The built exitscope-workload. */
  workload: string;
}

/** This copy's targets: the node running it, its own package root (checkout or installed). */
export function ownTargets(root = repoRoot()): GuestCommandTargets {
  return { node: process.execPath, cli: join(root, 'bin', 'exitscope.js'), workload: workloadPath(root) };
}

function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function guestCommands(t: GuestCommandTargets): GuestCommand[] {
  return [
    {
      name: 'exitscope',
      script: ['#!/bin/sh', '# written by exitscope lab (src/lab/guest-commands.ts)', `exec ${shq(t.node)} ${shq(t.cli)} "$@"`, ''].join('\n'),
    },
    {
      name: 'exitscope-workload',
      script: [
        '#!/bin/sh',
        '# written by exitscope lab (src/lab/guest-commands.ts)',
        `w=${shq(t.workload)}`,
        // A checkout that was never built has no workload: say how to get one, as the shell would not.
        `[ -x "$w" ] || { echo "exitscope-workload: $w is missing: build it (npm run build; workloads/build.sh needs gcc and libc6-dev)" >&2; exit 127; }`,
        'exec "$w" "$@"',
        '',
      ].join('\n'),
    },
  ];
}

/** Writes the scripts into DIR (the ctl share's bin/), executable. */
export function writeGuestCommands(dir: string, commands: GuestCommand[]): void {
  mkdirSync(dir, { recursive: true });
  for (const c of commands) {
    const file = join(dir, c.name);
    writeFileSync(file, c.script);
    chmodSync(file, 0o755);
  }
}
