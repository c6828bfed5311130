/**
 * `--userland SUITE` for bootLab: the root (built once), and the files the ctl share carries so
 * that the guest runs the lab's script inside it, with exitscope run by the suite's node.
 */
import { dirname } from 'node:path';
import { UserError } from '../../errors.js';
import { GUEST_BIN, type GuestCommandTargets, ownTargets } from '../guest-commands.js';
import { chrootPlan, chrootScript } from './chroot-plan.js';
import { ensureUserland } from './debootstrap.js';
import { findSuite, HOST_NODE_IN_USERLAND, USERLAND_SUITE_NAMES, userlandNode } from './suites.js';

/** The ctl share's mount point in the guest (GUEST_BIN is its bin/). */
export const GUEST_CTL = dirname(GUEST_BIN);

/** The name of the lab's own script (runScript) inside the ctl share, run inside the root. */
export const INNER_SCRIPT = 'userland-run.sh';

export interface PreparedUserland {
  suite: string;
  root: string;
  /** The ctl share's run.sh: set up the root, run INNER_SCRIPT in it, undo. */
  entryScript: string;
  /** What the guest's exitscope and exitscope-workload scripts run, as seen inside the root. */
  targets: GuestCommandTargets;
}

export async function prepareUserland(
  name: string,
  o: { cache: string; cwd: string; writable: string[]; progress: (line: string) => void; own?: GuestCommandTargets; packageRoot: string },
): Promise<PreparedUserland> {
  const suite = findSuite(name);
  if (!suite) throw new UserError('USERLAND_UNKNOWN', `no userland '${name}'`, `--userland takes ${USERLAND_SUITE_NAMES.join(', ')}`);
  const built = await ensureUserland(suite, { cache: o.cache, progress: o.progress });
  const own = o.own ?? ownTargets(o.packageRoot);
  const plan = chrootPlan({
    root: built.root,
    packageRoot: o.packageRoot,
    writable: o.writable,
    cwd: o.cwd,
    ctl: GUEST_CTL,
    ...(suite.node === 'host' ? { hostNode: { source: own.node, target: HOST_NODE_IN_USERLAND } } : {}),
  });
  return {
    suite: suite.name,
    root: built.root,
    entryScript: chrootScript(built.root, plan, `${GUEST_CTL}/${INNER_SCRIPT}`, suite.name),
    targets: { node: userlandNode(suite), cli: own.cli, workload: own.workload },
  };
}
