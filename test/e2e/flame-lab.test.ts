/**
 * Flame snapshots in the lab, against real KVM guests: during the npf workload
 * with npt on the TDP fault path is on the sampled stacks (and the shadow handler
 * never); with npt off the shadow-paging handler is; during io the port I/O exit
 * path is (counted on the folded stacks, not by rank: ranks depend on where the
 * samples fell). Also: no
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

/** Samples whose stack is rooted at `state` and has `caller` with a frame matching `callee` after it. */
function samplesOnPath(stacks: ReturnType<typeof parseFolded>, state: string, caller: string, callee: RegExp): number {
  return stacks
    .filter((st) => {
      if (st.frames[0]?.name !== state) return false;
      const at = st.frames.findIndex((f) => f.name === caller);
      return at >= 0 && st.frames.slice(at + 1).some((f) => callee.test(f.name));
    })
    .reduce((n, st) => n + st.count, 0);
}

describe('flame snapshots in the lab, npt on', { timeout: 600_000 }, () => {
  let lab: LabHandle;
  beforeAll(async () => {
    lab = await startLab({ npt: true });
  });
  afterAll(async () => {
    await lab?.session.stop();
  });

  it('npf: the TDP fault path (kvm_mmu_page_fault -> direct_page_fault) on the stacks, under [exit NPF]; no shadow handler', async () => {
    await flameDuring(lab, 'npf', 'npf 20000 --loop');
    // counted on the folded stacks, not by rank among the top frames: which frames rank first
    // among near-equal ones (syscall entry, KVM_RUN, the fault path) depends on where samples fell
    const stacks = parseFolded(readFileSync(join(lab.outDir, 'npf.folded'), 'utf8'));
    const onTdpPath = samplesOnPath(stacks, '[exit NPF]', 'kvm_mmu_page_fault', /^(direct_page_fault|kvm_tdp_page_fault|tdp_page_fault)$/);
    expect(onTdpPath, 'samples on kvm_mmu_page_fault -> the TDP handler under [exit NPF]').toBeGreaterThan(0);
    // nested paging on: the shadow-paging handler is never called
    expect(stacks.some((st) => st.frames.some((f) => f.name === 'paging64_page_fault'))).toBe(false);
    expect(stacks.flatMap((st) => st.frames).find((f) => f.name === 'kvm_mmu_page_fault')?.kind).toBe('kvm');
  });

  it('io: the port I/O exit path, under [exit IOIO]', async () => {
    await flameDuring(lab, 'io', 'io 100000 --loop');
    // the I/O handlers are short: counted on the stacks rather than by rank among the top frames
    const stacks = parseFolded(readFileSync(join(lab.outDir, 'io.folded'), 'utf8'));
    const io = /^(kvm_fast_pio|io_interception|complete_fast_pio_out|complete_fast_pio_in|kvm_emulate_pio|emulator_pio_out|emulator_pio_in|kernel_pio|__kvm_io_bus_write|kvm_io_bus_write)$/;
    const onIoPath = stacks.filter((st) => st.frames[0]?.name === '[exit IOIO]' && st.frames.some((f) => io.test(f.name))).reduce((n, st) => n + st.count, 0);
    expect(onIoPath, 'samples on the port I/O path').toBeGreaterThan(0);
  });

  it('-p PID: only that VM is sampled while another runs', async () => {
    const base = join(lab.outDir, 'one-vm');
    const script = join(lab.outDir, 'one-vm.sh');
    const W = join(REPO, 'build/exitscope-workload');
    writeFileSync(
      script,
      [
        // niced, as in flame-during.sh: bpftrace attaches first on the busy guest
        `nice -n 10 ${W} npf 20000 --loop > /dev/null & A=$!`,
        `nice -n 10 ${W} io 100000 --loop > /dev/null & B=$!`,
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
        `nice -n 10 ${join(REPO, 'build/exitscope-workload')} npf 20000 --loop > /dev/null &`,
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

describe('flame snapshots in the lab, npt off (shadow paging)', { timeout: 600_000 }, () => {
  let lab: LabHandle;
  beforeAll(async () => {
    lab = await startLab({ npt: false });
  });
  afterAll(async () => {
    await lab?.session.stop();
  });

  it('npf: the shadow-paging handler (paging64_page_fault) on the stacks, under the #PF intercept', async () => {
    await flameDuring(lab, 'npf-off', 'npf 20000 --loop');
    const stacks = parseFolded(readFileSync(join(lab.outDir, 'npf-off.folded'), 'utf8'));
    const onShadowPath = samplesOnPath(stacks, '[exit EXCP_PF]', 'kvm_mmu_page_fault', /^paging64_page_fault$/);
    expect(onShadowPath, 'samples on kvm_mmu_page_fault -> paging64_page_fault under [exit EXCP_PF]').toBeGreaterThan(0);
  });
});
