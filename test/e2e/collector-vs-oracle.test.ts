/**
 * exitscope against the kernel's own count: `perf stat` wraps `exitscope run`,
 * which wraps the workload, in the same lab guest. Nothing else runs a KVM
 * guest there, so every count must be equal: per exit reason, in total, and
 * for page faults. npt on and off; 1 and 2 vCPUs; -i 250, where the program's epoch moves every
 * 4th interval (src/probes/program.ts rotateEvery).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpftraceOutputParser, type Frame } from '../../src/collector/bpftrace-output.js';
import { ORACLE_REASONS, oracleArgv, parseOracle } from '../../src/lab/oracle.js';
import { parseTally, type Scenario, workloadArgs, workloadPath } from '../../src/lab/workload.js';
import type { Report } from '../../src/report/report.js';
import { type LabHandle, REPO, startLab } from './lab-harness.js';

let seq = 0;

async function traced(lab: LabHandle, scenario: Scenario, n: number, vcpus = 1) {
  const id = `${scenario}-${n}-${vcpus}-${seq++}`;
  const reportFile = join(lab.outDir, `${id}.report.json`);
  const recording = join(lab.outDir, `${id}.jsonl`);
  const csv = `/tmp/${id}.csv`;
  const exitscope = [join(REPO, 'bin/exitscope.js'), 'run', '-f', 'json', '--report-file', reportFile, '-o', recording, '--', workloadPath(REPO), ...workloadArgs(scenario, n, vcpus)];
  const argv = oracleArgv(exitscope, csv);
  const command = `${argv.map((a) => (/^[\w/.:=,-]+$/.test(a) ? a : `'${a}'`)).join(' ')} && cat ${csv} >&2`;
  const r = await lab.session.exec(command);
  if (r.status !== 0) throw new Error(`exitscope run under perf failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return {
    tally: parseTally(r.stdout),
    oracle: parseOracle(r.stderr.slice(r.stderr.indexOf('# started on'))),
    report: JSON.parse(readFileSync(reportFile, 'utf8')) as Report,
    recording,
  };
}

/** The report's counts equal perf stat's: per exit reason, in total, and page faults; nothing lost. */
function expectKernelCounts(report: Report, oracle: ReturnType<typeof parseOracle>): void {
  expect(report.complete).toBe(true);
  expect(report.lostEvents).toBe(0);
  expect(report.totalExits).toBe(oracle.exits);
  for (const reason of ORACLE_REASONS) {
    const ours = report.exits.filter((e) => e.reason === reason).reduce((a, e) => a + e.count, 0);
    expect(ours, `exit reason ${reason}`).toBe(oracle.exitsByReason.get(reason));
  }
  expect(report.pageFaults.count).toBe(oracle.pageFaults);
}

function expectSameCounts(run: Awaited<ReturnType<typeof traced>>): void {
  const { report, oracle, tally } = run;
  expectKernelCounts(report, oracle);
  // and what the workload itself says it caused
  for (const e of tally.expected) expect(report.exits.find((x) => x.reason === e.reason)?.count, e.name).toBe(e.count);
}

describe('exitscope run == perf stat, npt on', { timeout: 180_000 }, () => {
  let lab: LabHandle;
  beforeAll(async () => {
    lab = await startLab({ npt: true });
  });
  afterAll(async () => {
    await lab?.session.stop();
  });

  it.each([
    ['io', 1009],
    ['hlt', 1013],
    ['cpuid', 1019],
    ['msr', 1021],
    ['mmio', 1033],
  ] as const)('%s %d', async (scenario, n) => {
    expectSameCounts(await traced(lab, scenario, n));
  });

  it('npf 1031: the TDP handler count equals the NPF exits', async () => {
    const run = await traced(lab, 'npf', 1031);
    expectSameCounts(run);
    expect(run.report.exits.find((e) => e.name === 'NPF')?.count).toBe(1031);
    expect(run.report.tdpFaults).toMatchObject({ handler: 'kvm_tdp_page_fault', count: 1031 });
    expect(run.report.hints.map((h) => h.id)).toContain('nested-faults');
    expect(run.report.hints.map((h) => h.id)).not.toContain('shadow-paging');
  });

  it('-i 250: exact, and the epoch moves every 4th interval (once a second), clearing a copy only then', async () => {
    const id = `i250-${seq++}`;
    const reportFile = join(lab.outDir, `${id}.report.json`);
    const rawLog = join(lab.outDir, `${id}.bpftrace.jsonl`);
    const csv = `/tmp/${id}.csv`;
    // two VMs 2.5 s apart: at least ten intervals, so the epoch moves more than once while exits come
    const script = join(lab.outDir, `${id}.sh`);
    const workload = (scenario: Scenario, n: number, vcpus: number): string => [workloadPath(REPO), ...workloadArgs(scenario, n, vcpus)].join(' ');
    writeFileSync(script, [`${workload('io', 1009, 1)} > /dev/null`, 'sleep 2.5', `${workload('mix', 6, 2)} > /dev/null`].join('\n'));
    const exitscope = [join(REPO, 'bin/exitscope.js'), 'run', '-i', '250', '-f', 'json', '--report-file', reportFile, '--', 'sh', script];
    const command = `EXITSCOPE_BPFTRACE_LOG=${rawLog} ${oracleArgv(exitscope, csv).map((a) => (/^[\w/.:=,-]+$/.test(a) ? a : `'${a}'`)).join(' ')} && cat ${csv} >&2`;
    const r = await lab.session.exec(command);
    if (r.status !== 0) throw new Error(`exitscope run -i 250 under perf failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    const oracle = parseOracle(r.stderr.slice(r.stderr.indexOf('# started on')));
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    expectKernelCounts(report, oracle);
    expect(report.exits.find((e) => e.name === 'IOIO')?.count).toBeGreaterThanOrEqual(1009);

    // what bpftrace printed, as exitscope read it: a copy is cleared only in the frame right after a
    // move, and between two moves are at least 4 frames of one active copy (more only if it waited)
    const frames: Frame[] = [];
    const parser = new BpftraceOutputParser();
    parser.push(readFileSync(rawLog), (e) => e.kind === 'frame' && frames.push(e.frame));
    parser.end(() => undefined);
    const intervals = frames.filter((f) => !f.final);
    expect(intervals.length).toBeGreaterThanOrEqual(10);
    const moves = intervals.flatMap((f, i) => (i > 0 && f.active !== intervals[i - 1]?.active ? [i] : []));
    expect(moves.length).toBeGreaterThanOrEqual(2);
    intervals.forEach((f, i) => expect(f.cleared !== undefined, `interval ${i}: cleared ${f.cleared}`).toBe(moves.includes(i)));
    for (let j = 1; j < moves.length; j++) expect((moves[j] as number) - (moves[j - 1] as number)).toBeGreaterThanOrEqual(4);
  });

  it('mix over 2 vCPUs: per VM and per vCPU, named', async () => {
    const run = await traced(lab, 'mix', 6, 2);
    expectSameCounts(run);
    expect(run.report.vms).toHaveLength(1);
    const vm = run.report.vms[0];
    expect(vm?.name).toBe('exitscope-workload');
    expect(vm?.pid).toBe(run.tally.pid);
    expect(vm?.vcpus.map((v) => v.vcpu).sort()).toEqual([0, 1]);
    expect(vm?.vcpus.reduce((a, v) => a + v.count, 0)).toBe(run.oracle.exits);
  });
});

describe('exitscope run == perf stat, npt off (shadow paging)', { timeout: 180_000 }, () => {
  let lab: LabHandle;
  beforeAll(async () => {
    lab = await startLab({ npt: false });
  });
  afterAll(async () => {
    await lab?.session.stop();
  });

  it('npf 1031: #PF intercepts, no TDP handler call, and the shadow-paging hint', async () => {
    const run = await traced(lab, 'npf', 1031);
    expectSameCounts(run);
    expect(run.report.exits.find((e) => e.name === 'EXCP_PF')?.count).toBe(1031);
    expect(run.report.tdpFaults.count).toBe(0);
    expect(run.report.handlers.find((h) => h.handler === 'paging64_page_fault')?.count).toBeGreaterThanOrEqual(1031);
    expect(run.report.hints.map((h) => h.id)).toContain('shadow-paging');
  });

  it.each([
    ['io', 1009],
    ['mmio', 1019],
  ] as const)('%s %d', async (scenario, n) => {
    expectSameCounts(await traced(lab, scenario, n));
  });

  it('mix over 2 vCPUs', async () => {
    expectSameCounts(await traced(lab, 'mix', 6, 2));
  });
});
