/**
 * The Debian userlands `exitscope lab --userland SUITE` can run a command in, as data: what each
 * root holds besides minbase, and which node runs exitscope there. The versions are those the
 * suites shipped when this table was checked (docs/compatibility.md has the matrix as measured).
 */

/** Packages every userland gets: the tracer, the oracle, and what exitscope and the tests call. */
export const USERLAND_BASE_PACKAGES: readonly string[] = [
  'bpftrace', // the tracer exitscope drives
  'linux-perf', // perf stat: the oracle the tests compare against
  'procps', // ps, pgrep: what a user reaches for in the guest
  'iproute2', // ip: the guest network
  'util-linux', // setpriv --pdeathsig (src/process/parent-death.ts), mountpoint, flock
];

export interface UserlandSuite {
  name: string;
  /** Debian's release number, for messages. */
  release: string;
  /**
   * Which node runs exitscope in this root: 'suite' is the suite's own nodejs (installed);
   * 'host' is the host's node binary bound in at HOST_NODE_IN_USERLAND, for a suite whose nodejs
   * is older than exitscope needs (>= 20.19).
   */
  node: 'suite' | 'host';
  /** What the suite ships, as checked (bpftrace, node), for the help text and the docs. */
  ships: string;
}

export const USERLAND_SUITES: readonly UserlandSuite[] = [
  // bookworm's nodejs is 18.19: exitscope needs 20.19, so the host's node (Debian 12 + nodesource 20) runs it there
  { name: 'bookworm', release: 'Debian 12', node: 'host', ships: 'bpftrace 0.17, perf 6.1, nodejs 18 (exitscope runs on the host\'s node)' },
  { name: 'trixie', release: 'Debian 13', node: 'suite', ships: 'bpftrace 0.23, perf 6.12, node 20.19' },
  { name: 'sid', release: 'Debian unstable', node: 'suite', ships: 'bpftrace 0.27, perf 7.2, node 24' },
];

/** Where the host's node binary is bound inside a root whose own nodejs is too old (node: 'host'). */
export const HOST_NODE_IN_USERLAND = '/usr/local/bin/node';

/** The node that runs exitscope inside the root. */
export function userlandNode(suite: UserlandSuite): string {
  return suite.node === 'host' ? HOST_NODE_IN_USERLAND : '/usr/bin/node';
}

/** The packages debootstrap --include gets for this suite, sorted (the cache key hashes them). */
export function userlandPackages(suite: UserlandSuite): string[] {
  return [...USERLAND_BASE_PACKAGES, ...(suite.node === 'suite' ? ['nodejs'] : [])].sort();
}

export function findSuite(name: string): UserlandSuite | undefined {
  return USERLAND_SUITES.find((s) => s.name === name);
}

export const USERLAND_SUITE_NAMES: readonly string[] = USERLAND_SUITES.map((s) => s.name);
