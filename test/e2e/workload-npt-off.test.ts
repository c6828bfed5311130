/**
 * npt off (shadow paging, the seed article's case): guest page faults are
 * intercepted as SVM exit 0x4e, and the workloads stay exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, type LabHandle, runUnderOracle, startLab } from './lab-harness.js';

const SVM = { IOIO: 0x7b, NPF: 0x400, EXCP_PF: 0x4e, HLT: 0x78 } as const;

let lab: LabHandle;
beforeAll(async () => {
  lab = await startLab({ npt: false });
});
afterAll(async () => {
  await lab?.session.stop();
});

describe('workloads under perf stat, npt off', { timeout: 120_000 }, () => {
  it('npf 1031: N guest #PF intercepts, no nested page fault at all', async () => {
    const run = await runUnderOracle(lab, 'npf', 1031);
    expect(run.tally.tdp).toBe(false);
    expect(run.oracle.exitsByReason.get(SVM.EXCP_PF)).toBe(1031);
    expect(run.oracle.exitsByReason.get(SVM.NPF)).toBe(0);
    for (const c of compare(run)) expect(c.kernel, `${c.name}`).toBe(c.expected);
  });

  it('npf 1033 over 2 vCPUs', async () => {
    const run = await runUnderOracle(lab, 'npf', 1033, 2);
    expect(run.oracle.exitsByReason.get(SVM.EXCP_PF)).toBe(1033);
    for (const c of compare(run)) expect(c.kernel, `${c.name}`).toBe(c.expected);
  });

  it.each([
    ['io', 1009, SVM.IOIO],
    ['hlt', 1013, SVM.HLT],
  ] as const)('%s %d', async (scenario, n, reason) => {
    const run = await runUnderOracle(lab, scenario, n);
    expect(run.oracle.exitsByReason.get(reason)).toBe(n);
    for (const c of compare(run)) expect(c.kernel, `${c.name}`).toBe(c.expected);
  });

  it('mmio 1019: N MMIO exits, each a #PF intercept', async () => {
    const run = await runUnderOracle(lab, 'mmio', 1019);
    expect(run.oracle.mmio).toBe(1019);
    expect(run.oracle.exitsByReason.get(SVM.EXCP_PF)).toBe(1019 + run.tally.guest.setupFaultsPerVcpu);
    for (const c of compare(run)) expect(c.kernel, `${c.name}`).toBe(c.expected);
  });

  it('mix over 2 vCPUs', async () => {
    const run = await runUnderOracle(lab, 'mix', 6, 2);
    for (const c of compare(run)) expect(c.kernel, `${c.name}`).toBe(c.expected);
  });
});
