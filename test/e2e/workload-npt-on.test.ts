/**
 * The lab's workloads against the kernel's own count (perf stat), npt on:
 * every scenario makes exactly the exits it says, with prime counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, type LabHandle, runUnderOracle, startLab } from './lab-harness.js';

const SVM = { IOIO: 0x7b, HLT: 0x78, CPUID: 0x72, MSR: 0x7c, NPF: 0x400, EXCP_PF: 0x4e } as const;

let lab: LabHandle;
beforeAll(async () => {
  lab = await startLab({ npt: true });
});
afterAll(async () => {
  await lab?.session.stop();
});

describe('workloads under perf stat, npt on', { timeout: 120_000 }, () => {
  it.each([
    ['io', 1009, SVM.IOIO],
    ['hlt', 1013, SVM.HLT],
    ['cpuid', 1019, SVM.CPUID],
    ['msr', 1021, SVM.MSR],
    ['npf', 1031, SVM.NPF],
  ] as const)('%s %d: the kernel counts exactly N exits of that reason', async (scenario, n, reason) => {
    const run = await runUnderOracle(lab, scenario, n);
    expect(run.tally.ok).toBe(true);
    expect(run.tally.tdp).toBe(true);
    expect(run.oracle.exitsByReason.get(reason)).toBe(n);
    for (const c of compare(run)) expect(c.kernel, `${c.name}`).toBe(c.expected);
  });

  it('npf: every nested fault goes through kvm:kvm_page_fault, and none is MMIO', async () => {
    const run = await runUnderOracle(lab, 'npf', 1039);
    expect(run.oracle.exitsByReason.get(SVM.NPF)).toBe(1039);
    expect(run.oracle.pageFaults).toBe(1039);
    expect(run.oracle.mmio).toBe(0);
  });

  it('mmio 1033: N MMIO exits to the VMM, N kvm_mmio events, N nested faults beyond the setup ones', async () => {
    const run = await runUnderOracle(lab, 'mmio', 1033);
    expect(run.tally.vmm.mmio).toBe(1033);
    expect(run.oracle.mmio).toBe(1033);
    expect(run.oracle.exitsByReason.get(SVM.NPF)).toBe(1033 + run.tally.guest.setupFaultsPerVcpu);
    for (const c of compare(run)) expect(c.kernel, `${c.name}`).toBe(c.expected);
  });

  it.each([
    ['io', 1049, SVM.IOIO],
    ['npf', 1051, SVM.NPF],
    ['cpuid', 1061, SVM.CPUID],
  ] as const)('%s %d over 2 vCPUs: still exact', async (scenario, n, reason) => {
    const run = await runUnderOracle(lab, scenario, n, 2);
    expect(run.tally.vcpus).toBe(2);
    expect(run.oracle.exitsByReason.get(reason)).toBe(n);
    for (const c of compare(run)) expect(c.kernel, `${c.name}`).toBe(c.expected);
  });

  it('mix over 2 vCPUs: every phase counted exactly', async () => {
    const run = await runUnderOracle(lab, 'mix', 6, 2);
    const names = compare(run).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['IOIO', 'HLT', 'CPUID', 'MSR', 'NPF']));
    for (const c of compare(run)) expect(c.kernel, `${c.name}`).toBe(c.expected);
  });
});
