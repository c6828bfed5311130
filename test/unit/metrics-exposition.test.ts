import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRecording } from '../../src/commands/replay.js';
import { parseOracle } from '../../src/lab/oracle.js';
import { metricsEndpoint, metricsRegistry } from '../../src/metrics/exposition.js';
import { reasonLabels } from '../../src/metrics/labels.js';
import { MetricsModel } from '../../src/metrics/model.js';
import type { Message, SnapshotMessage } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { buildReport } from '../../src/report/report.js';
import { parseSamples, sumOf } from './support/prom-text.js';

const FIX = join(import.meta.dirname, '../fixtures');
const read = (p: string): string => readFileSync(join(FIX, p), 'utf8');
const promtool = spawnSync('promtool', ['--version']).status === 0;

/** What /metrics serves for a stream (the fast text; process metrics left out). */
async function exposition(messages: Message[], perVcpu = false): Promise<string> {
  const model = new MetricsModel({ perVcpu });
  for (const m of messages) model.apply(m);
  return (await metricsEndpoint(model, { processMetrics: false }).body()).toString('utf8');
}

describe.each(['run-mix-3-vcpus-2-npt-on', 'run-npf-1031-npt-off', 'run-npf-1031-npt-on'])('/metrics of the recording %s', (name) => {
  const messages = parseRecording(read(`recordings/${name}.jsonl`)).messages;
  const snapshots = messages.filter((m): m is SnapshotMessage => m.type === 'snapshot');

  it('is the golden text (regenerate with scripts/update-metrics-goldens.mjs)', async () => {
    expect(await exposition(messages)).toBe(read(`golden/${name}.metrics.txt`));
  });

  it('is byte for byte what prom-client\'s own formatter writes, at every point of the stream', async () => {
    for (const perVcpu of [false, true]) {
      const model = new MetricsModel({ perVcpu });
      const endpoint = metricsEndpoint(model, { processMetrics: false });
      const registry = metricsRegistry(model, { processMetrics: false });
      for (const m of messages) {
        model.apply(m);
        expect((await endpoint.body()).toString('utf8')).toBe(await registry.metrics());
      }
    }
  });

  it('counts every exit exactly: per reason, the sum of the deltas, the report and perf stat in the guest', async () => {
    const samples = parseSamples(await exposition(messages));
    const oracle = parseOracle(read(`recordings/${name}.perf.csv`));
    const report = buildReport(loadRecording(join(FIX, 'recordings', `${name}.jsonl`)));
    const deltas = new Map<string, number>();
    for (const s of snapshots) for (const e of s.exits) deltas.set(reasonLabels(e.isa, e.reason).reason, (deltas.get(reasonLabels(e.isa, e.reason).reason) ?? 0) + e.n);
    expect(deltas.size).toBeGreaterThan(0);
    for (const [reason, n] of deltas) expect(sumOf(samples, 'exitscope_exits_total', { reason }), reason).toBe(n);
    expect(sumOf(samples, 'exitscope_exits_total')).toBe(report.totalExits);
    expect(sumOf(samples, 'exitscope_exits_total')).toBe(oracle.exits);
    for (const [reason, n] of oracle.exitsByReason) expect(sumOf(samples, 'exitscope_exits_total', { reason: reasonLabels(2, reason).reason }), `reason ${reason}`).toBe(n);
    expect(sumOf(samples, 'exitscope_page_faults_total')).toBe(oracle.pageFaults);
    expect(sumOf(samples, 'exitscope_page_faults_total', { mmio: 'true' })).toBe(report.pageFaults.mmio);
    for (const h of report.handlers) expect(sumOf(samples, 'exitscope_fault_handler_calls_total', { handler: h.handler }), h.handler).toBe(h.count);
  });

  it('histograms: cumulative buckets, +Inf = _count = the observations, _sum within the buckets\' bounds', async () => {
    const samples = parseSamples(await exposition(messages));
    for (const fam of ['exitscope_exit_handling_seconds', 'exitscope_fault_handler_seconds']) {
      const counts = samples.filter((s) => s.name === `${fam}_count`);
      expect(counts.length, fam).toBeGreaterThan(0);
      for (const c of counts) {
        const key = JSON.stringify(c.labels);
        const buckets = samples.filter((s) => s.name === `${fam}_bucket` && JSON.stringify({ ...s.labels, le: undefined }) === JSON.stringify({ ...c.labels, le: undefined }));
        const les = buckets.map((b) => Number(b.labels.le === '+Inf' ? Infinity : b.labels.le));
        expect(les, key).toEqual([...les].sort((a, b) => a - b));
        for (let i = 1; i < buckets.length; i++) expect((buckets[i] as { value: number }).value).toBeGreaterThanOrEqual((buckets[i - 1] as { value: number }).value);
        expect(buckets.at(-1)?.value, key).toBe(c.value);
        // each observation is at least its bucket's lower bound and at most its `le`
        const sum = samples.find((s) => s.name === `${fam}_sum` && JSON.stringify(s.labels) === JSON.stringify(c.labels))?.value ?? NaN;
        let upper = 0;
        let below = 0;
        for (const b of buckets) {
          if (b.labels.le !== '+Inf') upper += (b.value - below) * Number(b.labels.le);
          below = b.value;
        }
        expect(sum).toBeLessThanOrEqual(upper + 1e-12);
      }
    }
    // exit latencies per reason are exactly the recording's buckets summed
    const buckets = snapshots.flatMap((s) => s.exitNs).flatMap((e) => e.b);
    const observed = buckets.reduce((a, [, n]) => a + n, 0);
    expect(observed).toBeGreaterThan(0);
    expect(sumOf(samples, 'exitscope_exit_handling_seconds_count')).toBe(observed);
    // _sum: the lower bounds, as HELP says (seconds)
    expect(sumOf(samples, 'exitscope_exit_handling_seconds_sum')).toBeCloseTo(buckets.reduce((a, [lo, n]) => a + lo * n, 0) / 1e9, 12);
  });

  it.runIf(promtool)('passes promtool check metrics (Prometheus\' own linter)', async () => {
    const text = await exposition(messages, true);
    expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })).toBe('');
  });
});

describe('/metrics with per-vCPU labels (--metrics-vcpu)', () => {
  const name = 'run-mix-3-vcpus-2-npt-on';
  const messages = parseRecording(read(`recordings/${name}.jsonl`)).messages;

  it('is the golden text', async () => {
    expect(await exposition(messages, true)).toBe(read(`golden/${name}.metrics-vcpu.txt`));
  });

  it('splits exitscope_exits_total by the vCPU index of each thread, with the same totals', async () => {
    const [plain, byVcpu] = [parseSamples(await exposition(messages)), parseSamples(await exposition(messages, true))];
    const vms = messages.filter((m) => m.type === 'vm');
    const vcpus = new Set(vms.flatMap((v) => Object.values(v.vcpus).map(String)));
    expect(new Set(byVcpu.filter((s) => s.name === 'exitscope_exits_total').map((s) => s.labels.vcpu))).toEqual(vcpus);
    for (const s of plain.filter((x) => x.name === 'exitscope_exits_total')) expect(sumOf(byVcpu, 'exitscope_exits_total', s.labels)).toBe(s.value);
    expect(plain.some((s) => 'vcpu' in s.labels)).toBe(false);
    // per thread, from the recording itself
    const tidOf = new Map(vms.flatMap((v) => Object.entries(v.vcpus).map(([tid, i]) => [Number(tid), String(i)] as const)));
    for (const vcpu of vcpus) {
      const n = messages.filter((m): m is SnapshotMessage => m.type === 'snapshot').flatMap((m) => m.exits).filter((e) => tidOf.get(e.tid) === vcpu).reduce((a, e) => a + e.n, 0);
      expect(sumOf(byVcpu, 'exitscope_exits_total', { vcpu })).toBe(n);
    }
  });
});

describe('/metrics of the host', () => {
  const off = parseRecording(read('recordings/run-npf-1031-npt-off.jsonl')).messages;
  const on = parseRecording(read('recordings/run-npf-1031-npt-on.jsonl')).messages;

  it('exitscope_nested_paging is the hello\'s tdp: 1, 0, absent when unknown', async () => {
    expect(sumOf(parseSamples(await exposition(on)), 'exitscope_nested_paging')).toBe(1);
    const offSamples = parseSamples(await exposition(off));
    expect(offSamples.filter((s) => s.name === 'exitscope_nested_paging').map((s) => s.value)).toEqual([0]);
    const unknown = off.map((m) => (m.type === 'hello' ? { ...m, tdp: null } : m));
    expect(parseSamples(await exposition(unknown)).some((s) => s.name === 'exitscope_nested_paging')).toBe(false);
  });

  it('probe_attached follows the hello; lost events and gaps are counted', async () => {
    const hello = off[0] as Extract<Message, { type: 'hello' }>;
    const probes = hello.probes.map((p, i) => ({ ...p, attached: i % 2 === 0 }));
    const samples = parseSamples(await exposition([{ ...hello, probes }, { type: 'lost', t: 5, events: 7 }, { type: 'lost', t: 6, events: 5 }, { type: 'gap', t: 7, reason: 'bpftrace exited', resumed: true }]));
    for (const p of probes) expect(sumOf(samples, 'exitscope_probe_attached', { probe: p.probe }), p.probe).toBe(p.attached ? 1 : 0);
    expect(sumOf(samples, 'exitscope_lost_events_total')).toBe(12);
    expect(sumOf(samples, 'exitscope_collection_gaps_total')).toBe(1);
    const info = samples.filter((s) => s.name === 'exitscope_build_info');
    expect(info).toEqual([{ name: 'exitscope_build_info', labels: { version: JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')).version, bpftrace: hello.bpftrace, kernel: hello.kernel, vendor: hello.vendor }, value: 1 }]);
  });

  it('process metrics under prom-client\'s standard names, on request', async () => {
    const model = new MetricsModel();
    const text = await metricsRegistry(model).metrics();
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(await metricsRegistry(model, { processMetrics: false }).metrics()).not.toMatch(/process_cpu/);
  });

  it('escapes VM names in label values (a name is from a command line)', async () => {
    const hello = off[0] as Extract<Message, { type: 'hello' }>;
    const name = 'evil"}\nexitscope_nested_paging 7\\';
    const text = await exposition([hello, { type: 'vm', event: 'appeared', t: 1, pid: 5, name, source: 'qemu', vcpus: {} }, { type: 'snapshot', seq: 0, t: 2, ms: 1000, exits: [{ pid: 5, tid: 6, isa: 2, reason: 120, n: 3 }], exitNs: [], faults: [], regions: [], handlers: [] }]);
    const samples = parseSamples(text);
    expect(samples.filter((s) => s.name === 'exitscope_exits_total')).toEqual([{ name: 'exitscope_exits_total', labels: { vm: name, reason: 'HLT', isa: 'svm' }, value: 3 }]);
    expect(samples.filter((s) => s.name === 'exitscope_nested_paging').map((s) => s.value)).toEqual([0]);
    // the same text as prom-client's escaping
    const model = new MetricsModel();
    for (const m of [hello, { type: 'vm', event: 'appeared', t: 1, pid: 5, name, source: 'qemu', vcpus: {} }] as Message[]) model.apply(m);
    expect((await metricsEndpoint(model, { processMetrics: false }).body()).toString('utf8')).toBe(await metricsRegistry(model, { processMetrics: false }).metrics());
  });

  it('the served body ends with prom-client\'s process metrics, as one registry would write them', async () => {
    const text = (await metricsEndpoint(new MetricsModel()).body()).toString('utf8');
    expect(text).toMatch(/\n\n# HELP process_cpu_user_seconds_total /);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.endsWith('\n\n')).toBe(false);
  });
});
