/**
 * The Intel lab (Bochs, VMX + EPT, kvm_intel): exitscope against the kernel's own counts in the
 * same guest. A Bochs boot costs 1-2 minutes (many more on a loaded machine), so the file boots
 * ONCE and runs one script: with ept=1, perf stat (fault kinds and EPT violations) around
 * `exitscope run`, around every scenario under its own perf stat (the exact per-reason oracle),
 * then a flame snapshot during npf; then kvm_intel is reloaded with ept=0 and npf and io run the
 * same way. Each part writes its results in its own directory, which the lab copies back.
 *
 * Run through the Bochs lock: flock /tmp/exitscope-bochs.lock npx vitest run test/e2e/intel-lab.test.ts
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { runInIntelLab } from '../../src/lab/intel/run.js';
import { GUEST_MODULES } from '../../src/lab/intel/serial-protocol.js';
import { ORACLE_REASONS, oracleArgv, parseOracle, type OracleCounts } from '../../src/lab/oracle.js';
import { parseTally, type Scenario, workloadArgs, type WorkloadTally } from '../../src/lab/workload.js';
import type { Report } from '../../src/report/report.js';
import { VMX_EXIT_REASONS } from '../../src/model/exit-reasons.js';

const VMX = { EXCEPTION_NMI: 0, CPUID: 10, HLT: 12, IO_INSTRUCTION: 30, MSR_READ: 31, MSR_WRITE: 32, EPT_VIOLATION: 48, EPT_MISCONFIG: 49 } as const;

/** kvm:kvm_page_fault's error_code bits for each EPT setting: the EPT exit qualification, or the #PF error code. */
const FAULT_BITS = {
  on: { write: 0x2, fetch: 0x4 },
  off: { write: 0x2, fetch: 0x10, rsvd: 0x8 },
} as const;

interface FaultOracle {
  total: number;
  write: number;
  fetch: number;
  rsvd: number;
  eptViolations: number;
}

const sh = (argv: string[]): string => argv.map((a) => (/^[\w/.:=,-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');

/**
 * A line on the guest's stderr when a step starts, with the guest's uptime (instruction time, not
 * wall time). With EXITSCOPE_E2E_VERBOSE the host prints each with its own elapsed time: where a
 * run's minutes go.
 */
const step = (name: string): string => `read UP _ < /proc/uptime; echo "e2e-step $UP ${name}" >&2`;

/** One part of the guest script, run in its own directory: every word is a validated number, a fixed name or a file of ours. */
function part(runs: [Scenario, number][], ept: 'on' | 'off', flame: boolean): { main: string; scenarios: string } {
  const scenarios = runs.map(([s, n]) => `${step(`${ept} ${s}`)}\n${sh(oracleArgv(['exitscope-workload', ...workloadArgs(s, n)], `oracle-${s}.csv`))} > tally-${s}.json`);
  const bits = FAULT_BITS[ept];
  const faults = ['perf', 'stat', '-x', ',', '-o', 'faults.csv', '-a', '-e', 'kvm:kvm_page_fault'];
  for (const b of [bits.write, bits.fetch, 'rsvd' in bits ? bits.rsvd : 0x8]) faults.push('-e', 'kvm:kvm_page_fault', '--filter', `error_code & ${b}`);
  faults.push('-e', 'kvm:kvm_exit', '--filter', `exit_reason == ${VMX.EPT_VIOLATION}`);
  const main = [
    'cat /sys/module/kvm_intel/parameters/ept > ept.txt',
    step(`${ept} exitscope run starts`),
    // bpftrace's own output is kept too (bpftrace.raw): what a count is made of, if one is ever off
    `${sh([...faults, '--', 'env', 'EXITSCOPE_BPFTRACE_LOG=bpftrace.raw', 'exitscope', 'run', '-o', 'run.jsonl', '-f', 'json', '--report-file', 'report.json', '--', 'sh', `../scenarios-${ept}.sh`])}`,
    step(`${ept} exitscope run ended`),
    ...(flame
      ? [
          // a flame snapshot of a steady EPT-violation load. The load starts once flame samples:
          // on the guest's one vCPU it would otherwise take half of the CPU that flame starts with
          // (node, bpftrace's compile and attach); flame follows threads as they take exits, so a
          // VM started after it attached is sampled all the same
          step('flame: starts'),
          'exitscope flame --seconds 4 -o flame.folded > flame.txt 2> flame.err & F=$!',
          'while ! grep -q "flame: sampling" flame.err && kill -0 $F 2>/dev/null; do sleep 0.2; done',
          step('flame: sampling; the load starts'),
          'exitscope-workload npf 20000 --loop > /dev/null & W=$!',
          'wait $F || echo "flame status $?" >> flame.txt',
          'cat flame.err >> flame.txt',
          step('flame: done'),
          'kill $W 2>/dev/null || true',
          'wait $W || true',
        ]
      : []),
    '',
  ].join('\n');
  return { main, scenarios: ['set -e', ...scenarios, ''].join('\n') };
}

function parseFaults(csv: string): FaultOracle {
  const rows = csv.split('\n').filter((l) => l.length > 0 && !l.startsWith('#'));
  const n = (i: number): number => {
    const v = (rows[i] ?? '').split(',')[0] ?? '';
    if (!/^\d+$/.test(v)) throw new Error(`perf stat row ${i}: ${rows[i]}\n${csv}`);
    return Number(v);
  };
  return { total: n(0), write: n(1), fetch: n(2), rsvd: n(3), eptViolations: n(4) };
}

interface PartResult {
  dir: string;
  report: Report;
  tallies: Map<Scenario, WorkloadTally>;
  oracles: Map<Scenario, OracleCounts>;
  faults: FaultOracle;
  ept: string;
}

const ON: [Scenario, number][] = [['io', 1009], ['hlt', 211], ['cpuid', 1013], ['msr', 1019], ['npf', 1021], ['mmio', 307], ['mix', 6]];
const OFF: [Scenario, number][] = [['npf', 1031], ['io', 1033]];

/** Boots the Intel lab once: the ept=1 part, kvm_intel reloaded with ept=0, the ept=0 part. */
async function runLab(): Promise<{ on: PartResult; off: PartResult }> {
  const dir = mkdtempSync(join(tmpdir(), 'exitscope-intel-e2e-'));
  const on = part(ON, 'on', true);
  const off = part(OFF, 'off', false);
  writeFileSync(join(dir, 'scenarios-on.sh'), on.scenarios);
  writeFileSync(join(dir, 'scenarios-off.sh'), off.scenarios);
  writeFileSync(join(dir, 'part-on.sh'), on.main);
  writeFileSync(join(dir, 'part-off.sh'), off.main);
  writeFileSync(
    join(dir, 'suite.sh'),
    ['set -e', 'mkdir -p on off', step('suite starts'), '(cd on && sh -e ../part-on.sh)', step('kvm_intel reloaded with ept=0'), 'rmmod kvm_intel', `insmod ${GUEST_MODULES}/kvm-intel.ko ept=0`, '(cd off && sh -e ../part-off.sh)', step('suite done'), 'echo suite-done', ''].join('\n'),
  );
  let stdout = '';
  let stderr = '';
  const started = Date.now();
  const sink = (add: (t: string) => void) => {
    let partial = '';
    return new Writable({
      write: (c: Buffer, _e, cb) => {
        const text = c.toString('utf8');
        if (process.env.EXITSCOPE_E2E_VERBOSE) {
          const lines = (partial + text).split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines.filter((l) => l.startsWith('e2e-step '))) process.stderr.write(`[host ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
        }
        add(text);
        cb();
      },
    });
  };
  // a stopped run (the timeout) still brings back what the parts that finished wrote: say where
  const status = await runInIntelLab(
    {
      command: 'sh suite.sh',
      npt: true,
      memoryMiB: 2048,
      cwd: dir,
      copyCwd: true,
      bootTimeoutSeconds: 1200,
      timeoutSeconds: 1800,
      progress: (line) => {
        if (process.env.EXITSCOPE_E2E_VERBOSE) process.stderr.write(`${line}\n`);
      },
    },
    { stdout: sink((t) => (stdout += t)), stderr: sink((t) => (stderr += t)) },
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\n(what the guest script wrote is in ${dir})`);
  });
  if (status !== 0 || !stdout.includes('suite-done')) throw new Error(`the suite failed in the Intel lab (status ${status}; what it wrote is in ${dir}):\n${stdout}\n${stderr}`);
  const read = (sub: string, f: string): string => readFileSync(join(dir, sub, f), 'utf8');
  const result = (sub: 'on' | 'off', runs: [Scenario, number][]): PartResult => {
    const tallies = new Map<Scenario, WorkloadTally>();
    const oracles = new Map<Scenario, OracleCounts>();
    for (const [sc] of runs) {
      tallies.set(sc, parseTally(read(sub, `tally-${sc}.json`)));
      oracles.set(sc, parseOracle(read(sub, `oracle-${sc}.csv`)));
    }
    return { dir: join(dir, sub), report: JSON.parse(read(sub, 'report.json')) as Report, tallies, oracles, faults: parseFaults(read(sub, 'faults.csv')), ept: read(sub, 'ept.txt').trim() };
  };
  return { on: result('on', ON), off: result('off', OFF) };
}

const reasonName = (r: number): string => VMX_EXIT_REASONS.get(r) ?? String(r);

/** Every scenario: the workload's tally, perf stat and exitscope's per-VM counts agree for every reason. */
function expectExact(lab: PartResult, scenario: Scenario): void {
  const tally = lab.tallies.get(scenario) as WorkloadTally;
  const oracle = lab.oracles.get(scenario) as OracleCounts;
  expect(tally.ok).toBe(true);
  expect(tally.vendor).toBe('intel');
  expect(tally.expected.length).toBeGreaterThan(0);
  for (const e of tally.expected) expect(oracle.exitsByReason.get(e.reason), `${scenario}: kernel's ${e.name}`).toBe(e.count);
  const vm = lab.report.vms.find((v) => v.pid === tally.pid);
  expect(vm, `${scenario}: exitscope saw VM pid ${tally.pid}`).toBeDefined();
  const counted = new Map((vm?.exits ?? []).map((x) => [x.name, x.count]));
  // the VMX reasons perf stat counted (the SVM codes of ORACLE_REASONS are all above 0x40)
  for (const r of ORACLE_REASONS.filter((x) => x < 0x40)) {
    expect(counted.get(reasonName(r)) ?? 0, `${scenario}: exitscope's ${reasonName(r)} against perf stat`).toBe(oracle.exitsByReason.get(r) ?? 0);
  }
}

let both: Promise<{ on: PartResult; off: PartResult }> | undefined;
/** The one boot, shared by both describe blocks (started by whichever runs first). */
const labOnce = (): Promise<{ on: PartResult; off: PartResult }> => (both ??= runLab());

describe('Intel lab, EPT on: every scenario, then a flame snapshot', { timeout: 60_000 }, () => {
  let lab: PartResult;
  beforeAll(async () => {
    lab = (await labOnce()).on;
  }, 1_950_000);

  it('kvm_intel runs with EPT, and the report says so', () => {
    expect(lab.ept).toBe('Y');
    expect(lab.report.vendor).toBe('intel');
    expect(lab.report.tdp).toBe(true);
    expect(lab.report.exits.every((e) => e.isaName === 'vmx')).toBe(true);
  });

  it.each(ON.map(([s]) => s))('%s: exact against perf stat, per reason', (scenario) => {
    expectExact(lab, scenario);
  });

  it('mmio: the first access per vCPU is an EPT violation, the others EPT misconfigs', () => {
    const t = lab.tallies.get('mmio') as WorkloadTally;
    expect(lab.oracles.get('mmio')?.exitsByReason.get(VMX.EPT_MISCONFIG)).toBe(307 - t.vcpus);
    expect(lab.oracles.get('mmio')?.mmio).toBe(307);
  });

  it("page-fault kinds: the EPT qualification decoded (write, fetch, read) as perf stat's filters count them; none is MMIO", () => {
    const pf = lab.report.pageFaults;
    const kind = (access: string) => pf.byKind.filter((k) => k.kind.startsWith(`${access},`)).reduce((a, k) => a + k.count, 0);
    expect(pf.count).toBe(lab.faults.total);
    expect(kind('write')).toBe(lab.faults.write);
    expect(kind('fetch')).toBe(lab.faults.fetch);
    expect(kind('read')).toBe(lab.faults.total - lab.faults.write - lab.faults.fetch);
    expect(lab.faults.fetch).toBeGreaterThan(0);
    expect(pf.mmio).toBe(0);
    // EPT misconfigs (MMIO) never reach kvm_page_fault: they are apart, as their own exit reason
    expect(lab.report.exits.find((e) => e.name === 'EPT_MISCONFIG')?.count).toBeGreaterThan(0);
  });

  it('the TDP handler is found and timed: one call per EPT violation', () => {
    expect(lab.report.tdpFaults.handler).toBe('kvm_tdp_page_fault');
    expect(lab.report.tdpFaults.count).toBe(lab.faults.eptViolations);
    expect(lab.report.tdpFaults.latency?.count ?? 0).toBeGreaterThan(0);
  });

  it('no shadow-paging hint with EPT on', () => {
    expect(lab.report.hints.map((h) => h.id)).not.toContain('shadow-paging');
  });

  it('a flame snapshot during npf shows the EPT-violation path: vmx_handle_exit -> handle_ept_violation, which tail-calls kvm_mmu_page_fault', () => {
    const stacks = readFileSync(join(lab.dir, 'flame.folded'), 'utf8').split('\n').filter((l) => l.startsWith('[exit EPT_VIOLATION];'));
    const k = (f: string): string => `(?:${f})(?:_\\[k\\])?`;
    // handle_ept_violation ends with `return kvm_mmu_page_fault(...)`, compiled as a jump: its own
    // samples sit under vmx_handle_exit, and kvm_mmu_page_fault's sit there in its place
    expect(stacks.some((l) => new RegExp(`${k('vmx_handle_exit')};${k('handle_ept_violation')}(?:;| )`).test(l))).toBe(true);
    expect(stacks.some((l) => new RegExp(`${k('vmx_handle_exit')};${k('kvm_mmu_page_fault')};(?:[^;\\n]+;)*${k('kvm_tdp_page_fault|direct_page_fault')}`).test(l))).toBe(true);
  });
});

describe('Intel lab, EPT off (kvm_intel reloaded in the same guest): npf and io', { timeout: 60_000 }, () => {
  let lab: PartResult;
  beforeAll(async () => {
    lab = (await labOnce()).off;
  }, 1_950_000);

  it('kvm_intel runs without EPT', () => {
    expect(lab.ept).toBe('N');
    expect(lab.report.tdp).toBe(false);
  });

  it.each(OFF.map(([s]) => s))('%s: exact against perf stat, per reason', (scenario) => {
    expectExact(lab, scenario);
  });

  it('npf: guest page faults arrive as EXCEPTION_NMI exits, one kvm_page_fault each, no EPT violation', () => {
    const o = lab.oracles.get('npf') as OracleCounts;
    expect(o.exitsByReason.get(VMX.EXCEPTION_NMI)).toBe(1031);
    expect(o.exitsByReason.get(VMX.EPT_VIOLATION)).toBe(0);
    expect(o.pageFaults).toBe(1031);
  });

  it("page-fault kinds: the #PF error code decoded (not an EPT qualification), as perf stat's filters count them", () => {
    const pf = lab.report.pageFaults;
    const kind = (access: string) => pf.byKind.filter((k) => k.kind.startsWith(`${access},`)).reduce((a, k) => a + k.count, 0);
    expect(pf.count).toBe(lab.faults.total);
    expect(kind('write')).toBe(lab.faults.write);
    expect(kind('fetch')).toBe(lab.faults.fetch);
    expect(pf.mmio).toBe(lab.faults.rsvd);
    expect(lab.faults.eptViolations).toBe(0);
  });

  it("Intel's shadow-paging handlers are found and timed; the TDP handler is never called", () => {
    const shadow = lab.report.handlers.filter((h) => h.role === 'shadow' && h.count > 0);
    expect(shadow.map((h) => h.handler)).toContain('paging64_page_fault');
    expect(shadow.reduce((a, h) => a + h.count, 0)).toBe(lab.faults.total);
    expect(lab.report.tdpFaults.count).toBe(0);
  });

  it('the shadow-paging hint fires on EXCEPTION_NMI exits carrying #PF', () => {
    const hint = lab.report.hints.find((h) => h.id === 'shadow-paging');
    expect(hint?.message).toMatch(/EXCEPTION_NMI exits carrying #PF/);
  });
});
