/**
 * Scoping in a real KVM host (the lab, npt on): two known workloads at once, one inside
 * `exitscope run --scope` (or a cgroup given with --cgroup), the other outside. The scoped report
 * must hold the inner workload's tally exactly and none of the other's exits, while perf stat
 * (system-wide, in the same guest) shows the other's exits did happen during the run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oracleArgv, parseOracle } from '../../src/lab/oracle.js';
import { parseTally, workloadArgs, workloadPath } from '../../src/lab/workload.js';
import type { Report } from '../../src/report/report.js';
import { type LabHandle, REPO, startLab } from './lab-harness.js';

const CPUID = 114;
const EXITSCOPE = join(REPO, 'bin/exitscope.js');
const WORKLOAD = workloadPath(REPO);
/** Every word is a validated number, a fixed name or a path of ours: safe to join for sh. */
const sh = (argv: string[]): string => argv.map((a) => (/^[\w/.:=,-]+$/.test(a) ? a : `'${a}'`)).join(' ');

describe('exitscope run --scope and --cgroup count one job among others exactly', { timeout: 600_000 }, () => {
  let lab: LabHandle;
  beforeAll(async () => {
    lab = await startLab({ npt: true });
  }, 300_000);
  afterAll(async () => {
    await lab?.session.stop();
  });

  /**
   * The other job: CPUID exits without end until killed (started first, so it runs through the
   * whole scoped run), then `inner` under perf stat -a; returns the inner tally, the report, perf.
   */
  async function beside(id: string, inner: string[]) {
    const csv = `/tmp/${id}.csv`;
    const command = [
      `${sh([WORKLOAD, ...workloadArgs('cpuid', 2003), '--loop'])} > /dev/null & other=$!`,
      'sleep 1',
      `${sh(oracleArgv(inner, csv))}; s=$?`,
      'kill $other; wait $other 2>/dev/null',
      `cat ${csv} >&2`,
      'ls /sys/fs/cgroup | grep exitscope-run- >&2',
      'exit $s',
    ].join('\n');
    const r = await lab.session.exec(command, 480_000);
    if (r.status !== 0) throw new Error(`scoped run failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    const tallyLine = r.stdout.split('\n').find((l) => l.startsWith('{"scenario"')) ?? '';
    return { tally: parseTally(tallyLine), oracle: parseOracle(r.stderr.slice(r.stderr.indexOf('# started on'))), stderr: r.stderr };
  }

  it('run --scope: IOIO, HLT, NPF of the inner io 1009 exactly; not one CPUID of the cpuid job beside it', async () => {
    const reportFile = join(lab.outDir, 'scope.report.json');
    const run = await beside('scope', [EXITSCOPE, 'run', '--scope', '-f', 'json', '--report-file', reportFile, '-o', join(lab.outDir, 'scope.jsonl'), '--', WORKLOAD, ...workloadArgs('io', 1009)]);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    expect(report.complete).toBe(true);
    expect(report.lostEvents).toBe(0);
    expect(report.scope?.created).toBe(true);
    expect(report.scope?.cgroup).toMatch(/^\/sys\/fs\/cgroup\/exitscope-run-\d+-[0-9a-f]{8}$/);
    for (const e of run.tally.expected) expect(report.exits.find((x) => x.reason === e.reason)?.count, e.name).toBe(e.count);
    // the io workload makes no CPUID exit: the tally does not expect one, and none was counted
    expect(run.tally.expected.find((e) => e.reason === CPUID)).toBeUndefined();
    expect(report.exits.find((x) => x.reason === CPUID)).toBeUndefined();
    // while the other job's CPUID exits did happen, during the run, on the same host
    expect(run.oracle.exitsByReason.get(CPUID) ?? 0).toBeGreaterThan(1000);
    expect(report.totalExits).toBeLessThan(run.oracle.exits);
    // one VM counted: the inner workload's
    expect(report.vms.map((v) => v.pid)).toEqual([run.tally.pid]);
    // the cgroup is gone (ls found no exitscope-run-*)
    expect(run.stderr).not.toMatch(/^exitscope-run-/m);
  });

  it('--cgroup PATH (relative to the mount): a job in a sub-cgroup of it counted exactly, the other job not at all', async () => {
    const reportFile = join(lab.outDir, 'cgroup.report.json');
    // the job's VM lives in a cgroup below the one given, as libvirt's vCPU threads do (.../libvirt/vcpu0)
    await lab.session.exec('mkdir -p /sys/fs/cgroup/job-b/vm');
    const join_ = 'echo $$ > /sys/fs/cgroup/job-b/vm/cgroup.procs && exec "$@"';
    const run = await beside('cgroup', [EXITSCOPE, 'run', '--cgroup', 'job-b', '-f', 'json', '--report-file', reportFile, '-o', join(lab.outDir, 'cgroup.jsonl'), '--', 'sh', '-c', join_, 'job-b', WORKLOAD, ...workloadArgs('hlt', 1013)]);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    expect(report.scope).toMatchObject({ cgroup: '/sys/fs/cgroup/job-b', created: false });
    expect(report.scope?.ids).toHaveLength(2);
    for (const e of run.tally.expected) expect(report.exits.find((x) => x.reason === e.reason)?.count, e.name).toBe(e.count);
    expect(report.exits.find((x) => x.reason === CPUID)).toBeUndefined();
    expect(run.oracle.exitsByReason.get(CPUID) ?? 0).toBeGreaterThan(1000);
    // a given cgroup is the user's: it stays
    expect((await lab.session.exec('test -d /sys/fs/cgroup/job-b/vm')).status).toBe(0);
  });

  it('flame --cgroup: samples only the job in the cgroup, never the busy VM beside it', async () => {
    const folded = join(lab.outDir, 'scoped.folded');
    const command = [
      'mkdir -p /sys/fs/cgroup/job-f',
      // exec keeps the pid: $inner is the workload's own
      `sh -c 'echo $$ > /sys/fs/cgroup/job-f/cgroup.procs && exec "$@"' job-f ${sh([WORKLOAD, ...workloadArgs('npf', 1031), '--loop'])} > /dev/null & inner=$!`,
      `${sh([WORKLOAD, ...workloadArgs('cpuid', 2003), '--loop'])} > /dev/null & outer=$!`,
      'sleep 2',
      `${sh([EXITSCOPE, 'flame', '--cgroup', 'job-f', '--seconds', '3', '--no-user', '-q', '-o', folded])} > /dev/null; s=$?`,
      'echo "inner=$inner outer=$outer"',
      'kill $inner $outer; wait 2>/dev/null',
      'exit $s',
    ].join('\n');
    const r = await lab.session.exec(command, 480_000);
    expect(r.status, r.stderr).toBe(0);
    const [, inner, outer] = /inner=(\d+) outer=(\d+)/.exec(r.stdout) ?? [];
    const text = readFileSync(folded, 'utf8');
    expect(text).toContain(`(pid ${inner})]`);
    expect(text).not.toContain(`(pid ${outer})]`);
    expect(text).not.toContain('[exit CPUID]');
  });

  it('--cgroup that does not exist: error [CGROUP_NOT_FOUND] with a fix, status 2, nothing started', async () => {
    const r = await lab.session.exec(`${sh([EXITSCOPE, 'top', '--once', '--cgroup', 'no/such.scope'])}; echo "status=$?"`);
    expect(r.stderr).toContain('exitscope: error [CGROUP_NOT_FOUND]: no cgroup /sys/fs/cgroup/no/such.scope');
    expect(r.stderr).toContain('  fix: ');
    expect(r.stdout).toContain('status=2');
  });
});
