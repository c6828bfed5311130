/**
 * A CI farm's short-lived VMs through what `exitscope run` keeps (issue 11): the VmTracker names
 * the VMs it sees in /proc and says when they go; most of the lab soak's VMs ended between two of its
 * polls and were only ever pids in the counts. Those must be said gone too, so that the Aggregate
 * folds their counts like any gone VM's: before, it kept every one's totals for the whole run (about
 * 2 KB a VM; bench/run-memory.mjs measured it). The counts stay exact either way.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VmTracker } from '../../src/collector/vm-tracker.js';
import { Aggregate } from '../../src/model/aggregate.js';
import type { Message, SnapshotMessage } from '../../src/protocol/messages.js';
import { buildReport } from '../../src/report/report.js';

const REASONS = [0x7b, 0x400, 0x78, 0x60]; // IOIO, NPF, HLT, INTR: the lab workload's
const pidOf = (v: number): number => 10_000 + v * 10;

/** VM v's /proc entry: QEMU named ci-V, two vCPU threads. */
function addVm(proc: string, v: number): void {
  const p = join(proc, String(pidOf(v)));
  mkdirSync(join(p, 'task'), { recursive: true });
  writeFileSync(join(p, 'cmdline'), ['qemu-system-x86_64', '-name', `ci-${v}`, ''].join('\0'));
  writeFileSync(join(p, 'comm'), 'qemu-system-x86\n');
  for (const [tid, comm] of [[pidOf(v) + 1, 'CPU 0/KVM'], [pidOf(v) + 2, 'CPU 1/KVM']] as const) {
    mkdirSync(join(p, 'task', String(tid)));
    writeFileSync(join(p, 'task', String(tid), 'comm'), `${comm}\n`);
  }
}

describe('short-lived VMs: said gone named or not, folded by the model, totals exact', () => {
  it('400 VMs (every other one never in /proc): the model keeps about the live ones and the last gone, not every VM', () => {
    const proc = mkdtempSync(join(tmpdir(), 'proc-'));
    const debugfs = mkdtempSync(join(tmpdir(), 'kvm-debugfs-'));
    const maxGone = 5;
    const agg = new Aggregate(0, maxGone); // totals only (a report), few gone VMs kept apart
    let t = 0;
    const tracker = new VmTracker((m) => agg.apply(m), () => t, proc, debugfs);
    agg.apply({ type: 'hello', v: 1, startedAt: '2026-11-28T00:00:00.000Z', host: 'h', kernel: 'k', bpftrace: 'v0.17.0', vendor: 'amd', tdp: true, intervalMs: 1000, probes: [], handlers: [], filters: { pids: [], reasons: [] } } as Message);
    const PER = 4; // VMs that start each interval
    const LIFETIME = 2; // intervals each counts in
    const INTERVALS = 100;
    const fed = new Map<number, number>();
    let most = 0;
    for (let i = 0; i < INTERVALS; i++) {
      t = i * 1000;
      for (let v = i * PER; v < (i + 1) * PER; v++) if (v % 2 === 1) addVm(proc, v);
      const s: SnapshotMessage = { type: 'snapshot', seq: i, t, ms: 1000, exits: [], exitNs: [], faults: [], regions: [], handlers: [] };
      for (let v = Math.max(0, (i - LIFETIME + 1) * PER); v < (i + 1) * PER; v++) {
        for (const reason of REASONS) {
          for (const tid of [pidOf(v) + 1, pidOf(v) + 2]) {
            const n = 1 + ((v + reason + tid) % 7);
            s.exits.push({ pid: pidOf(v), tid, isa: 2, reason, n });
            fed.set(reason, (fed.get(reason) ?? 0) + n);
          }
          s.exitNs.push({ pid: pidOf(v), isa: 2, reason, b: [[16384, 1]] });
        }
        s.faults.push({ pid: pidOf(v), code: 2, n: 1 });
      }
      // the VMs that counted for the last time end before the collector reads the counts (as in
      // the lab, the even ones never had a /proc entry the tracker could read)
      for (let v = Math.max(0, (i - LIFETIME + 1) * PER); v < (i - LIFETIME + 2) * PER; v++) rmSync(join(proc, String(pidOf(v))), { recursive: true, force: true });
      // as Collector.onEvent: the counts' pids looked up, the snapshot, every fifth the gone check
      tracker.saw(s.exits);
      agg.apply(s);
      if ((i + 1) % 5 === 0) tracker.checkGone();
      most = Math.max(most, agg.total.exits.size);
    }
    // bounded: 8 exit keys (2 vCPUs x 4 reasons) a VM for the live ones, those of the last five
    // intervals not yet checked, up to 2 x maxGone gone ones not folded yet, and the folded entry's 4
    expect(most).toBeLessThanOrEqual(8 * (PER * LIFETIME + 5 * PER + 2 * maxGone + PER) + REASONS.length);
    expect(agg.foldedVms).toBeGreaterThan(350);
    // exact: every reason's total is what was fed
    const report = buildReport(agg);
    for (const reason of REASONS) expect(report.exits.find((e) => e.reason === reason)?.count).toBe(fed.get(reason));
    expect(report.totalExits).toBe([...fed.values()].reduce((a, n) => a + n, 0));
    expect(report.pageFaults.count).toBe(INTERVALS * PER * LIFETIME - PER);
  });
});
