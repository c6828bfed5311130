import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricsRegistry } from '../../src/metrics/exposition.js';
import { leSeconds, Log2Histogram, lowerOf, slotOf, upperOf } from '../../src/metrics/log2-buckets.js';
import { faultLabels, reasonLabels, unnamedVm } from '../../src/metrics/labels.js';
import { MetricsModel, type MetricsOptions } from '../../src/metrics/model.js';
import { OTHER_VM } from '../../src/metrics/vm-labels.js';
import { Aggregate } from '../../src/model/aggregate.js';
import { bucketHigh } from '../../src/report/histogram.js';
import type { HelloMessage, Message, SnapshotMessage } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { EXITSCOPE_VERSION } from '../../src/version.js';
import { labelValues, parseSamples, sumOf } from './support/prom-text.js';

const FIX = join(import.meta.dirname, '../fixtures');
const hello = parseRecording(readFileSync(join(FIX, 'recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages[0] as HelloMessage;

const vm = (t: number, pid: number, name: string, event: 'appeared' | 'gone' = 'appeared', vcpus: Record<string, number> = {}): Message => ({ type: 'vm', event, t, pid, name, source: 'qemu', vcpus });
/** One interval: n HLT exits of thread pid+1 for each pid. */
const snap = (t: number, pids: number[], n = 1): SnapshotMessage => ({ type: 'snapshot', seq: t, t, ms: 1000, exits: pids.map((pid) => ({ pid, tid: pid + 1, isa: 2, reason: 0x78, n })), exitNs: pids.map((pid) => ({ pid, isa: 2, reason: 0x78, b: [[1024, n]] as [number, number][] })), faults: [], regions: [], handlers: [] });

async function scrape(messages: Message[], o: Partial<MetricsOptions> = {}) {
  const model = new MetricsModel(o);
  for (const m of messages) model.apply(m);
  return { model, samples: parseSamples(await metricsRegistry(model, { processMetrics: false }).metrics()) };
}

describe('log2 buckets as Prometheus buckets', () => {
  it('every bucket bpftrace can print: its slot, bounds and le (the exact largest value, as the report\'s bucketHigh)', () => {
    const los = [0, 1, ...Array.from({ length: 63 }, (_, k) => 2 ** (k + 1))];
    los.forEach((lo, slot) => {
      expect(slotOf(lo), `lo ${lo}`).toBe(slot);
      expect(lowerOf(slot)).toBe(lo);
      expect(upperOf(slot)).toBe(bucketHigh(lo));
      expect(Number(leSeconds(slot))).toBe(upperOf(slot) / 1e9);
      if (slot > 0) expect(upperOf(slot - 1) + 1).toBe(lo); // no value falls between buckets
    });
    expect(leSeconds(0)).toBe('0');
    expect(leSeconds(1)).toBe('1e-9');
    expect(leSeconds(11)).toBe('0.000002047');
  });

  it('a value lands in the bucket whose [lo, le] holds it, for every value up to 2^20', () => {
    for (let v = 0; v <= 2 ** 20; v += v < 4096 ? 1 : 997) {
      // bpftrace's own rule: 0, 1, then the power of two at or below v
      const lo = v < 2 ? v : 2 ** Math.floor(Math.log2(v));
      const slot = slotOf(lo);
      expect(v).toBeGreaterThanOrEqual(lowerOf(slot));
      expect(v).toBeLessThanOrEqual(upperOf(slot));
    }
  });

  it('a histogram keeps exact counts and the lower-bound sum', () => {
    const h = new Log2Histogram();
    h.add(0, 2);
    h.add(1, 3);
    h.add(1024, 5);
    h.add(1024, 1);
    expect(h.count).toBe(11);
    expect(h.counts[slotOf(1024)]).toBe(6);
    expect(h.lowerBoundSumNs).toBe(3 + 6 * 1024);
  });
});

describe('labels', () => {
  it('reason: the decoded name, or the number when the table has none; isa svm|vmx', () => {
    expect(reasonLabels(2, 0x7b)).toMatchObject({ reason: 'IOIO', isa: 'svm' });
    expect(reasonLabels(1, 48)).toMatchObject({ reason: 'EPT_VIOLATION', isa: 'vmx' });
    expect(reasonLabels(2, 0x3ff)).toMatchObject({ reason: '1023', isa: 'svm' });
    // VMX: the failed-entry bit is not part of the reason (as the report counts it)
    expect(reasonLabels(1, 0x80000000 | 33)).toEqual(reasonLabels(1, 33));
    expect(reasonLabels(1, 0x80000000 | 33).reason).toBe('INVALID_STATE');
  });

  it('page faults: access, present and mmio as lowercase words from the decoded error code', () => {
    expect(faultLabels(2, 0b10)).toEqual({ access: 'write', present: 'false', mmio: 'false' });
    expect(faultLabels(2, 0b1 | 0b1000)).toEqual({ access: 'read', present: 'true', mmio: 'true' });
    expect(faultLabels(2, 0b10000)).toEqual({ access: 'fetch', present: 'false', mmio: 'false' });
    expect(faultLabels(1, 0b10 | 0b1000)).toEqual({ access: 'write', present: 'true', mmio: 'false' });
  });

  it('a VM the stream never named is called what the dashboard calls it', () => {
    expect(unnamedVm(4242)).toBe(new Aggregate().vmName(4242));
  });

  it('the version in build_info is package.json\'s', () => {
    expect(EXITSCOPE_VERSION).toBe(JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')).version);
  });
});

describe('cardinality: --metrics-max-vms folds the rest into vm="other"', () => {
  const pids = [101, 102, 103, 104, 105];
  const stream: Message[] = [hello, ...pids.map((p, i) => vm(i, p, `vm-${p}`)), snap(10, pids, 7), snap(11, pids, 5)];

  it('the first N VMs keep their names, the others count under other, and nothing is lost', async () => {
    const { samples } = await scrape(stream, { maxVms: 2 });
    expect(labelValues(samples, 'exitscope_exits_total', 'vm')).toEqual(['vm-101', 'vm-102', OTHER_VM]);
    expect(sumOf(samples, 'exitscope_exits_total', { vm: OTHER_VM })).toBe(3 * 12);
    expect(sumOf(samples, 'exitscope_exits_total')).toBe(5 * 12);
    expect(sumOf(samples, 'exitscope_exit_handling_seconds_count', { vm: OTHER_VM })).toBe(3 * 12);
    // vm_info: only the VMs with a name of their own
    expect(samples.filter((s) => s.name === 'exitscope_vm_info').map((s) => s.labels)).toEqual([{ vm: 'vm-101', pid: '101', source: 'qemu' }, { vm: 'vm-102', pid: '102', source: 'qemu' }]);
  });

  it('without a cap hit, every VM has its own label', async () => {
    const { samples } = await scrape(stream, { maxVms: 5 });
    expect(labelValues(samples, 'exitscope_exits_total', 'vm')).toEqual(pids.map((p) => `vm-${p}`));
  });

  it('a slot freed by a dropped VM goes to the next new VM; one already in other stays there (other never goes down)', async () => {
    const grace = 1000;
    const msgs: Message[] = [...stream, vm(20, 101, 'vm-101', 'gone'), snap(21 + grace, [102, 103]), vm(30 + grace, 106, 'vm-106'), snap(31 + grace, [103, 106], 2)];
    const { samples } = await scrape(msgs, { maxVms: 2, goneGraceMs: grace });
    expect(labelValues(samples, 'exitscope_exits_total', 'vm')).toEqual(['vm-102', OTHER_VM, 'vm-106']);
    // other: 103..105 (12 each) + 103 later (1 + 2)
    expect(sumOf(samples, 'exitscope_exits_total', { vm: OTHER_VM })).toBe(36 + 3);
  });
});

describe('gone VMs are dropped after the grace period (stream time)', () => {
  const grace = 5 * 60_000;

  it('a gone VM still counts its late deltas, then its series disappear at gone + grace', async () => {
    const base: Message[] = [hello, vm(0, 7, 'ci-1'), vm(0, 8, 'ci-2'), snap(1000, [7, 8], 4), vm(1500, 7, 'ci-1', 'gone'), snap(2000, [7, 8], 3)];
    const during = await scrape([...base, snap(1500 + grace - 1, [8])], { goneGraceMs: grace });
    expect(sumOf(during.samples, 'exitscope_exits_total', { vm: 'ci-1' })).toBe(7);
    expect(during.samples.filter((s) => s.name === 'exitscope_vm_info').length).toBe(2);
    const after = await scrape([...base, snap(1500 + grace, [8])], { goneGraceMs: grace });
    expect(labelValues(after.samples, 'exitscope_exits_total', 'vm')).toEqual(['ci-2']);
    expect(labelValues(after.samples, 'exitscope_exit_handling_seconds_count', 'vm')).toEqual(['ci-2']);
    expect(after.samples.filter((s) => s.name === 'exitscope_vm_info').map((s) => s.labels.vm)).toEqual(['ci-2']);
    expect(sumOf(after.samples, 'exitscope_exits_total', { vm: 'ci-2' })).toBe(8);
    expect(after.model.vms.size).toBe(1);
  });

  it('a name two processes share keeps its series (and its count) until the last one is dropped', async () => {
    const msgs: Message[] = [hello, vm(0, 7, 'ci'), vm(0, 8, 'ci'), snap(1000, [7, 8], 4), vm(1500, 7, 'ci', 'gone'), snap(1500 + grace, [8], 1)];
    const { samples } = await scrape(msgs, { goneGraceMs: grace });
    expect(sumOf(samples, 'exitscope_exits_total', { vm: 'ci' })).toBe(9); // never went down
    expect(samples.filter((s) => s.name === 'exitscope_vm_info').map((s) => s.labels.pid)).toEqual(['8']);
  });

  it('a VM never named (gone before /proc was read) is dropped once silent for the grace period', async () => {
    const msgs: Message[] = [hello, snap(1000, [9]), snap(2000, [9])];
    const during = await scrape([...msgs, snap(2000 + grace - 1, [])], { goneGraceMs: grace });
    expect(sumOf(during.samples, 'exitscope_exits_total', { vm: 'pid 9' })).toBe(2);
    const after = await scrape([...msgs, snap(2000 + grace, [])], { goneGraceMs: grace });
    expect(after.samples.some((s) => s.name === 'exitscope_exits_total')).toBe(false);
    expect(after.model.vms.size).toBe(0);
  });

  it('a pid that is gone and appears again is a new VM: the old one is dropped at once', async () => {
    const msgs: Message[] = [hello, vm(0, 7, 'old'), snap(1000, [7], 4), vm(1500, 7, 'old', 'gone'), vm(1600, 7, 'new'), snap(2000, [7], 2)];
    const { samples } = await scrape(msgs, { goneGraceMs: grace });
    expect(labelValues(samples, 'exitscope_exits_total', 'vm')).toEqual(['new']);
    expect(sumOf(samples, 'exitscope_exits_total')).toBe(2);
  });

  it('thousands of short-lived VMs: memory stays bounded by those within the grace period', async () => {
    const short = 1000;
    const model = new MetricsModel({ goneGraceMs: short, maxVms: 50 });
    model.apply(hello);
    let total = 0;
    for (let i = 0; i < 5000; i++) {
      const t = i * 100;
      model.apply(vm(t, 10_000 + i, `ci-job-${i}`));
      model.apply(snap(t + 1, [10_000 + i], 3));
      total += 3;
      model.apply(vm(t + 2, 10_000 + i, `ci-job-${i}`, 'gone'));
    }
    expect(model.vms.size).toBeLessThanOrEqual(short / 100 + 1);
    expect(model.series.size).toBeLessThanOrEqual(short / 100 + 2);
    const samples = parseSamples(await metricsRegistry(model, { processMetrics: false }).metrics());
    // what disappeared is what Prometheus already scraped while it lived: the live sum is the rest
    expect(sumOf(samples, 'exitscope_exits_total')).toBe(3 * model.vms.size);
    expect(3 * model.vms.size).toBeLessThan(total);
  });
});
