/**
 * doctor's trial attach with the bpftrace stand-in (test/unit/support/fake-bpftrace.mjs): the
 * program top runs is started and stopped; bpftrace's own failure comes back as a failed required
 * check with its words and a fix, never as "can trace here". The real bpftrace: test/e2e/lab-cli.
 */
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TRIAL_NAME, trialAttach } from '../../src/doctor/trial-attach.js';
import { blocking } from '../../src/probes/capabilities.js';
import { runningTracers } from '../../src/process/tracer-process.js';
import { fakeCaps } from './support/fake-caps.js';
import { usePrivateTmpdir } from './support/private-tmpdir.js';

const FAKE = join(import.meta.dirname, 'support/fake-bpftrace.mjs');
usePrivateTmpdir('doctor-trial-test-');
const ours = (): string[] => readdirSync(tmpdir()).filter((d) => d.startsWith('exitscope-'));

function trial(mode: string, timeoutMs?: number) {
  process.env.FAKE_BPFTRACE_MODE = mode;
  return trialAttach(fakeCaps(FAKE), { proc: '/nonexistent', ...(timeoutMs ? { timeoutMs } : {}) });
}

afterEach(() => {
  delete process.env.FAKE_BPFTRACE_MODE;
});

describe('doctor: trial attach', () => {
  it('attaches and stops: an ok required check; no bpftrace and no temporary directory left', async () => {
    const k = await trial('normal');
    expect(k).toMatchObject({ name: TRIAL_NAME, ok: true, required: true });
    expect(k.detail).toMatch(/^bpftrace compiled and attached the program top runs in \d+\.\d s$/);
    expect(runningTracers()).toBe(0);
    expect(ours()).toEqual([]);
  });

  it("kernel 5.10's failure (no BTF for modules): bpftrace's words, and the fix names the kernel", async () => {
    const k = await trial('no-module-btf');
    expect(k).toMatchObject({ name: TRIAL_NAME, ok: false, required: true });
    expect(k.detail).toContain("unknown type name 'u32'");
    expect(k.fix).toMatch(/5\.11 or later/);
    const caps = fakeCaps(FAKE);
    caps.checks.push(k);
    expect(blocking(caps)?.name).toBe(TRIAL_NAME);
    expect(ours()).toEqual([]);
  });

  it('no permission: the fix says to run as root', async () => {
    const k = await trial('eperm');
    expect(k.ok).toBe(false);
    expect(k.fix).toBe('run exitscope as root');
  });

  it('a bpftrace that never attaches is given up on after the timeout, and stopped', async () => {
    const k = await trial('never-attaches', 500);
    expect(k.ok).toBe(false);
    expect(k.detail).toMatch(/did not attach its probes within 1 s/);
    expect(runningTracers()).toBe(0);
  });
});
