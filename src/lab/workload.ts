/**
 * The lab's KVM workload (workloads/kvm-workload.c, built to build/exitscope-workload, in the checkout
 * and in the installed package alike):
 * its command line, built from validated values only, and its JSON tally.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { repoRoot } from './paths.js';

export const SCENARIOS = ['io', 'hlt', 'cpuid', 'msr', 'npf', 'mmio', 'mix'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export function workloadPath(repo = repoRoot()): string {
  return join(repo, 'build', 'exitscope-workload');
}

/** argv for one run: numbers are checked, so the result is safe to join into a shell command. */
export function workloadArgs(scenario: Scenario, n: number, vcpus = 1): string[] {
  if (!SCENARIOS.includes(scenario)) throw new Error(`unknown scenario ${String(scenario)}`);
  if (!Number.isSafeInteger(n) || n < 0 || n > 100_000_000) throw new RangeError(`N must be 0..100000000, not ${n}`);
  if (!Number.isSafeInteger(vcpus) || vcpus < 1 || vcpus > 64) throw new RangeError(`vcpus must be 1..64, not ${vcpus}`);
  return [scenario, String(n), ...(vcpus > 1 ? ['--vcpus', String(vcpus)] : [])];
}

const Count = z.number().int().nonnegative();

/** The JSON object the workload prints on stdout. */
export const WorkloadTally = z.object({
  scenario: z.enum(SCENARIOS),
  n: Count,
  vcpus: z.number().int().positive(),
  vendor: z.enum(['amd', 'intel']),
  tdp: z.boolean(),
  seconds: z.number().nonnegative(),
  ok: z.boolean(),
  pid: z.number().int().positive(),
  /** Exits this VMM saw in userspace. */
  vmm: z.object({ io: Count, hlt: Count, mmio: Count }),
  /** What the guest code did: the kernel-only exits follow from it. */
  guest: z.object({ cpuid: Count, rdmsr: Count, wrmsr: Count, pageTouches: Count, setupFaultsPerVcpu: Count }),
  /** Exact kvm:kvm_exit counts per reason this run must cause (isa 2 = SVM, 1 = VMX). */
  expected: z.array(z.object({ isa: z.union([z.literal(1), z.literal(2)]), reason: Count, name: z.string(), count: Count })),
});
export type WorkloadTally = z.infer<typeof WorkloadTally>;

export function parseTally(text: string): WorkloadTally {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith('{"scenario"'));
  if (!line) throw new Error(`no workload tally in output:\n${text.slice(0, 2000)}`);
  return WorkloadTally.parse(JSON.parse(line));
}
