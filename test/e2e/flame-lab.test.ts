/**
 * Flame snapshots in the lab, against real KVM guests: during the npf workload
 * with npt on the TDP fault path is among the top frames; with npt off the
 * shadow-paging handler is; during io the port I/O exit path is. Also: no
 * samples is a clear error with no file, and Ctrl-C (to the whole process
 * group, as a terminal sends it) leaves no file, not even a half-written one.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFolded } from '../../src/flame/folded.js';
import type { FlameSummary } from '../../src/flame/summary.js';
import { type LabHandle, REPO, startLab } from './lab-harness.js';

interface FlameJson extends FlameSummary {
  files: Record<string, string>;
}

/** `exitscope flame --json` while a workload runs (scripts/flame-during.sh), in the lab. */
async function flameDuring(lab: LabHandle, name: string, workload: string): Promise<FlameJson> {
  const r = await lab.session.exec(`bash ${join(REPO, 'scripts/flame-during.sh')} 3 -- --json --top 15 -o ${join(lab.outDir, name)} -- ${workload}`);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toContain('flame: sampling all VMs at 99 Hz');
  const out = JSON.parse(r.stdout) as FlameJson;
  // the files are there and whole: the folded file's samples add up to the summary's
  for (const f of ['folded', 'svg', 'html']) expect(existsSync(out.files[f] as string), f).toBe(true);
  const stacks = parseFolded(readFileSync(out.files.folded as string, 'utf8'));
  expect(stacks.reduce((n, s) => n + s.count, 0)).toBe(out.samples);
  expect(readFileSync(out.files.svg as string, 'utf8')).toMatch(/<\/svg>\n$/);
  expect(readFileSync(out.files.html as string, 'utf8')).toMatch(/<\/html>\n$/);
  return out;
}

const names = (s: FlameSummary): string[] => s.topTotal.map((f) => f.name);
const share = (s: FlameSummary, state: string): number => s.byState.find((x) => x.name === state)?.share ?? 0;

describe('flame snapshots in the lab, npt on', { timeout: 300_000 }, () => {
  let lab: LabHandle;
  beforeAll(async () => {
    lab = await startLab({ npt: true });
  });
  afterAll(async () => {
    await lab?.session.stop();
  });

  it('npf: the TDP fault path (kvm_mmu_page_fault -> direct_page_fault) among the top frames, under [exit NPF]', async () => {
    const s = await flameDuring(lab, 'npf', 'npf 20000 --loop');
    expect(names(s)).toContain('kvm_mmu_page_fault');
    expect(names(s).some((n) => n === 'direct_page_fault' || n === 'kvm_tdp_page_fault' || n === 'tdp_page_fault')).toBe(true);
    expect(names(s)).not.toContain('paging64_page_fault');
    expect(share(s, '[exit NPF]')).toBeGreaterThan(0.1);
    expect(s.topTotal.find((f) => f.name === 'kvm_mmu_page_fault')?.kind).toBe('kvm');
  });

  it('io: the port I/O exit path, under [exit IOIO]', async () => {
    const s = await flameDuring(lab, 'io', 'io 100000 --loop');
    expect(share(s, '[exit IOIO]')).toBeGreaterThan(0.1);
    expect(names(s)).not.toContain('kvm_mmu_page_fault');
    // the I/O handlers are short: counted on the stacks rather than by rank among the top frames
    const stacks = parseFolded(readFileSync(join(lab.outDir, 'io.folded'), 'utf8'));
    const io = /^(kvm_fast_pio|io_interception|complete_fast_pio_out|complete_fast_pio_in|kvm_emulate_pio|emulator_pio_out|emulator_pio_in|kernel_pio|__kvm_io_bus_write|kvm_io_bus_write)$/;
    const onIoPath = stacks.filter((st) => st.frames[0]?.name === '[exit IOIO]' && st.frames.some((f) => io.test(f.name))).reduce((n, st) => n + st.count, 0);
    expect(onIoPath, 'samples on the port I/O path').toBeGreaterThan(0);
    expect(onIoPath / s.samples).toBeGreaterThan(0.01);
  });

  it('-p PID: only that VM is sampled while another runs', async () => {
    const base = join(lab.outDir, 'one-vm');
    const script = join(lab.outDir, 'one-vm.sh');
    const W = join(REPO, 'build/exitscope-workload');
    writeFileSync(
      script,
      [
        `${W} npf 20000 --loop > /dev/null & A=$!`,
        `${W} io 100000 --loop > /dev/null & B=$!`,
        `node ${join(REPO, 'bin/exitscope.js')} flame --seconds 3 -p $B --json -o ${base} --format folded`,
        'status=$?; echo "io-pid=$B" >&2',
        'kill $A $B; wait 2>/dev/null',
        'exit $status',
      ].join('\n'),
    );
    const r = await lab.session.exec(`bash ${script}`);
    expect(r.status, r.stderr).toBe(0);
    const ioPid = /io-pid=(\d+)/.exec(r.stderr)?.[1];
    const stacks = parseFolded(readFileSync(`${base}.folded`, 'utf8'));
    const vms = new Set(stacks.map((st) => st.frames[1]?.name));
    expect([...vms]).toEqual([`[vm exitscope-workload (pid ${ioPid})]`]);
    const states = new Set(stacks.map((st) => st.frames[0]?.name));
    expect(states.has('[exit NPF]')).toBe(false);
    expect(states.has('[exit IOIO]')).toBe(true);
  });

  it('no VM running: a clear NO_SAMPLES error and no file', async () => {
    const base = join(lab.outDir, 'idle');
    const r = await lab.session.exec(`node ${join(REPO, 'bin/exitscope.js')} flame --seconds 1 -o ${base}`);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error \[NO_SAMPLES\]: no vCPU thread of all VMs was on a CPU during the 1 s capture/);
    expect(r.stderr).toMatch(/fix: capture while the guest is busy/);
    expect(readdirSync(lab.outDir).filter((f) => f.startsWith('idle'))).toEqual([]);
  });

  it('Ctrl-C to the process group while sampling: exit 130, nothing written, no temporary file left', async () => {
    const base = join(lab.outDir, 'interrupted');
    const script = join(lab.outDir, 'interrupt.sh');
    // set -m: the flame command gets its own process group, which Ctrl-C in a terminal would signal
    writeFileSync(
      script,
      [
        'set -m',
        `${join(REPO, 'build/exitscope-workload')} npf 20000 --loop > /dev/null &`,
        'W=$!',
        `node ${join(REPO, 'bin/exitscope.js')} flame --seconds 60 -o ${base} 2> ${base}.progress &`,
        'F=$!',
        `until grep -q sampling ${base}.progress; do kill -0 $F || break; sleep 0.2; done`,
        'sleep 1',
        'kill -INT -- -$F',
        'status=0; wait $F || status=$?',
        'kill $W; wait $W 2>/dev/null',
        `cat ${base}.progress >&2; rm ${base}.progress`,
        'exit $status',
      ].join('\n'),
    );
    const r = await lab.session.exec(`bash ${script}`);
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toContain('flame: sampling');
    expect(r.stderr).toContain('flame capture interrupted: nothing written');
    expect(readdirSync(lab.outDir).filter((f) => f.startsWith('interrupted'))).toEqual([]);
  });
});

describe('flame snapshots in the lab, npt off (shadow paging)', { timeout: 240_000 }, () => {
  let lab: LabHandle;
  beforeAll(async () => {
    lab = await startLab({ npt: false });
  });
  afterAll(async () => {
    await lab?.session.stop();
  });

  it('npf: the shadow-paging handler (paging64_page_fault) among the top frames, under the #PF intercept', async () => {
    const s = await flameDuring(lab, 'npf-off', 'npf 20000 --loop');
    expect(names(s)).toContain('kvm_mmu_page_fault');
    expect(names(s)).toContain('paging64_page_fault');
    expect(names(s)).not.toContain('direct_page_fault');
    expect(share(s, '[exit EXCP_PF]')).toBeGreaterThan(0.1);
  });
});
