/**
 * The kept text of series between scrapes (src/metrics/text-format.ts): a series is written anew
 * only when it moved (its `changes` or the family's `shape`), otherwise copied from the previous
 * scrape's body; the body stays byte for byte prom-client's at every step, bodies in flight are
 * never written over, and series that go (a VM dropped) or fold (vm="other") are right.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricsEndpoint, metricsRegistry } from '../../src/metrics/exposition.js';
import { MetricsModel, type MetricsOptions } from '../../src/metrics/model.js';
import { type FamilyDef, type Labels, TextFormatter } from '../../src/metrics/text-format.js';
import { OTHER_VM } from '../../src/metrics/vm-labels.js';
import type { HelloMessage, Message, SnapshotMessage } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { labelValues, parseSamples, sumOf } from './support/prom-text.js';

const FIX = join(import.meta.dirname, '../fixtures');
const read = (p: string): string => readFileSync(join(FIX, p), 'utf8');
const hello = parseRecording(read('recordings/run-mix-3-vcpus-2-npt-on.jsonl')).messages[0] as HelloMessage;

/** A hand-made counter family over `series`, counting how often each series' lines are written. */
function counterFamily(series: { name: string; value: number; changes: number; rendered?: unknown }[], shape: () => number, written: Map<string, number>): FamilyDef {
  const labels = new Map<string, Labels>(series.map((s) => [s.name, { s: s.name }]));
  return {
    name: 'test_total',
    type: 'counter',
    help: 'a test',
    each(out) {
      for (const s of series) {
        if (!out.begin(s, 0, s.changes, shape())) continue;
        written.set(s.name, (written.get(s.name) ?? 0) + 1);
        out.line('test_total', labels.get(s.name), undefined, s.value);
        out.line('test_total', { s: s.name, le: 'x' }, undefined, s.value * 2);
        out.end();
      }
    },
  };
}

const expectedText = (series: { name: string; value: number }[]): string =>
  `# HELP test_total a test\n# TYPE test_total counter\n${series.map((s) => `test_total{s="${s.name}"} ${s.value}\ntest_total{s="${s.name}",le="x"} ${s.value * 2}\n`).join('')}`;

describe('a series is written again only when it moved', () => {
  it('unchanged series are copied, a changed one is rewritten, a new shape rewrites all', () => {
    const series = [
      { name: 'a', value: 1, changes: 0 },
      { name: 'b', value: 20, changes: 0 },
      { name: 'c', value: 300, changes: 0 },
    ];
    let shape = 0;
    const written = new Map<string, number>();
    const family = counterFamily(series, () => shape, written);
    const f = new TextFormatter();
    const scrape = (): string => {
      written.clear();
      const body = f.write([family]);
      const text = body.toString('utf8');
      f.release(body);
      return text;
    };

    expect(scrape()).toBe(expectedText(series));
    expect([...written.keys()]).toEqual(['a', 'b', 'c']);

    // nothing moved: nothing written, the same text
    expect(scrape()).toBe(expectedText(series));
    expect(written.size).toBe(0);

    // b moved (a new value and its count of entries): only b is written, with the new value
    (series[1] as { value: number }).value = 2000;
    (series[1] as { changes: number }).changes++;
    expect(scrape()).toBe(expectedText(series));
    expect([...written.keys()]).toEqual(['b']);

    // a value that changed without its count of changes is not seen: the count is the contract
    (series[0] as { value: number }).value = 5;
    expect(scrape()).toBe(expectedText([{ name: 'a', value: 1 }, ...series.slice(1)]));
    expect(written.size).toBe(0);

    // a new shape (an `le` ladder that grew) rewrites every series
    shape = 1;
    expect(scrape()).toBe(expectedText(series));
    expect([...written.keys()]).toEqual(['a', 'b', 'c']);
    expect(scrape()).toBe(expectedText(series));
    expect(written.size).toBe(0);
  });

  it('bodies not given back are never written over; bodies given back are reused and still right', () => {
    const series = Array.from({ length: 50 }, (_, i) => ({ name: `s${i}`, value: i, changes: 0 }));
    const family = counterFamily(series, () => 0, new Map());
    const f = new TextFormatter();
    const inFlight: { body: Buffer; text: string }[] = [];
    for (let round = 0; round < 12; round++) {
      // every third series moves each round
      for (let i = round % 3; i < series.length; i += 3) {
        const s = series[i] as { value: number; changes: number };
        s.value += 1000 * (round + 1);
        s.changes++;
      }
      const body = f.write([family]);
      const text = expectedText(series);
      expect(body.toString('utf8')).toBe(text);
      inFlight.push({ body, text });
      // every body not given back is as it was written
      for (const b of inFlight) expect(b.body.toString('utf8')).toBe(b.text);
      // two or three bodies stay in flight; the oldest are given back
      while (inFlight.length > 2 + (round % 2)) f.release((inFlight.shift() as { body: Buffer }).body);
    }
  });

  it('again() serves the last body\'s families with a new tail, walks no family, and its memory is not written over while any hand-out is in flight', () => {
    const series = Array.from({ length: 20 }, (_, i) => ({ name: `s${i}`, value: i, changes: 0 }));
    const written = new Map<string, number>();
    const family = counterFamily(series, () => 0, written);
    const f = new TextFormatter();
    expect(f.again('tail 1')).toBeUndefined();
    const first = f.write([family], 'tail 1');
    f.release(first);
    const text = (tail: string): string => `${expectedText(series)}\n${tail}\n`;
    written.clear();
    // three hand-outs of the same body, given back out of order, while others are written
    const a = f.again('tail 2') as Buffer[];
    const b = f.again('tail 3') as Buffer[];
    expect(written.size).toBe(0);
    expect(Buffer.concat(a).toString('utf8')).toBe(text('tail 2'));
    expect(Buffer.concat(b).toString('utf8')).toBe(text('tail 3'));
    const frozen = text('tail 3');
    f.release(a[0] as Buffer);
    for (let round = 0; round < 6; round++) {
      for (const s of series) {
        s.value += 7;
        s.changes++;
      }
      const body = f.write([family], `tail ${round}`);
      expect(body.toString('utf8')).toBe(text(`tail ${round}`));
      f.release(body);
      // b is still in flight: its bytes are as they were handed out
      expect(Buffer.concat(b).toString('utf8')).toBe(frozen);
    }
    f.release(b[0] as Buffer);
    // given back: the memory may be reused, and what is written is still right
    for (let round = 0; round < 3; round++) {
      (series[0] as { changes: number }).changes++;
      const body = f.write([family], 'end');
      expect(body.toString('utf8')).toBe(text('end'));
      f.release(body);
    }
  });
});

/** A snapshot at t: n exits of HLT and n of IOIO for each pid, with a latency bucket each. */
const snap = (t: number, pids: number[], n: number): SnapshotMessage => ({
  type: 'snapshot',
  seq: t,
  t,
  ms: 1000,
  exits: pids.flatMap((pid) => [
    { pid, tid: pid + 1, isa: 2, reason: 0x78, n },
    { pid, tid: pid + 1, isa: 2, reason: 0x7b, n },
  ]),
  exitNs: pids.map((pid) => ({ pid, isa: 2, reason: 0x78, b: [[1024 * n, n]] as [number, number][] })),
  faults: pids.map((pid) => ({ pid, code: 2, n })),
  regions: [],
  handlers: pids.map((pid) => ({ pid, h: 0, n, b: [[2048, n]] as [number, number][] })),
});
const vm = (t: number, pid: number, name: string, event: 'appeared' | 'gone' = 'appeared'): Message => ({ type: 'vm', event, t, pid, name, source: 'qemu', vcpus: {} });

/** The served body after each message (bodies given back, as the HTTP route does), checked against prom-client's. */
async function scrapeAlong(messages: Message[], o: Partial<MetricsOptions>): Promise<string[]> {
  const model = new MetricsModel(o);
  const endpoint = metricsEndpoint(model, { processMetrics: false });
  const registry = metricsRegistry(model, { processMetrics: false });
  const texts: string[] = [];
  // a scrape of the model's last version (nothing applied since) kept in flight across the next message
  let held: { parts: Buffer[]; text: string } | undefined;
  for (const m of messages) {
    model.apply(m);
    const parts = await endpoint.scrape();
    const text = Buffer.concat(parts).toString('utf8');
    expect(text).toBe(await registry.metrics());
    // nothing applied since: the same text again (served from the last body), and it stays so in flight
    const again = await endpoint.scrape();
    expect(Buffer.concat(again).toString('utf8')).toBe(text);
    if (held) {
      expect(Buffer.concat(held.parts).toString('utf8')).toBe(held.text);
      endpoint.release(held.parts);
    }
    held = { parts: again, text };
    endpoint.release(parts);
    texts.push(text);
  }
  return texts;
}

describe('the kept text of a model\'s series', () => {
  it('a changed value is in the next scrape; an unchanged VM\'s lines stay as they were', async () => {
    const texts = await scrapeAlong([hello, vm(0, 7, 'ci-1'), vm(0, 8, 'ci-2'), snap(1000, [7, 8], 4), snap(2000, [8], 3), snap(3000, [7], 5)], {});
    const at = (i: number) => parseSamples(texts[i] as string);
    expect(sumOf(at(3), 'exitscope_exits_total', { vm: 'ci-2' })).toBe(8);
    expect(sumOf(at(4), 'exitscope_exits_total', { vm: 'ci-2' })).toBe(14);
    expect(sumOf(at(4), 'exitscope_exits_total', { vm: 'ci-1' })).toBe(8);
    expect(sumOf(at(5), 'exitscope_exits_total', { vm: 'ci-1' })).toBe(18);
    expect(sumOf(at(5), 'exitscope_exit_handling_seconds_count', { vm: 'ci-1' })).toBe(9);
    expect(sumOf(at(5), 'exitscope_page_faults_total', { vm: 'ci-1' })).toBe(9);
    expect(sumOf(at(5), 'exitscope_fault_handler_calls_total', { vm: 'ci-2' })).toBe(7);
    // ci-2 did not move between the last two scrapes: its lines are the same
    const ci2 = (t: string) => t.split('\n').filter((l) => l.includes('vm="ci-2"'));
    expect(ci2(texts[5] as string)).toEqual(ci2(texts[4] as string));
    expect(ci2(texts[5] as string).length).toBeGreaterThan(0);
  });

  it('a gone VM\'s series disappear at the end of its grace period, the others\' stay right', async () => {
    const grace = 1000;
    const texts = await scrapeAlong([hello, vm(0, 7, 'ci-1'), vm(0, 8, 'ci-2'), snap(100, [7, 8], 4), vm(200, 7, 'ci-1', 'gone'), snap(300, [8], 1), snap(200 + grace, [8], 2)], { goneGraceMs: grace });
    expect(labelValues(parseSamples(texts[5] as string), 'exitscope_exits_total', 'vm')).toEqual(['ci-1', 'ci-2']);
    const after = parseSamples(texts[6] as string);
    for (const name of ['exitscope_exits_total', 'exitscope_exit_handling_seconds_bucket', 'exitscope_page_faults_total', 'exitscope_fault_handler_calls_total', 'exitscope_fault_handler_seconds_count', 'exitscope_vm_info']) {
      expect(labelValues(after, name, 'vm'), name).toEqual(['ci-2']);
    }
    expect(sumOf(after, 'exitscope_exits_total', { vm: 'ci-2' })).toBe(14);
  });

  it('VMs beyond the cap fold into vm="other": its lines follow every folded VM\'s counts', async () => {
    const texts = await scrapeAlong([hello, vm(0, 1, 'a'), vm(0, 2, 'b'), vm(0, 3, 'c'), snap(100, [1, 2, 3], 2), snap(200, [3], 5), snap(300, [1], 1), snap(400, [2], 7)], { maxVms: 1 });
    const last = parseSamples(texts.at(-1) as string);
    expect(labelValues(last, 'exitscope_exits_total', 'vm')).toEqual(['a', OTHER_VM]);
    expect(sumOf(last, 'exitscope_exits_total', { vm: OTHER_VM })).toBe(2 * (2 + 2 + 5 + 7));
    expect(sumOf(last, 'exitscope_exits_total', { vm: 'a' })).toBe(2 * (2 + 1));
    // "other" moved in the scrape after 'b' counted; 'a' did not
    expect(sumOf(parseSamples(texts.at(-2) as string), 'exitscope_exits_total', { vm: OTHER_VM })).toBe(2 * (2 + 2 + 5));
  });

  it('the golden texts, scraped along the stream with bodies given back, end identical', async () => {
    for (const name of ['run-mix-3-vcpus-2-npt-on', 'run-npf-1031-npt-off', 'run-npf-1031-npt-on']) {
      const texts = await scrapeAlong(parseRecording(read(`recordings/${name}.jsonl`)).messages, {});
      expect(texts.at(-1), name).toBe(read(`golden/${name}.metrics.txt`));
    }
  });
});

describe('resending the last body', () => {
  const lost = (t: number, events: number): Message => ({ type: 'lost', t, events }) as Message;
  const text = async (endpoint: ReturnType<typeof metricsEndpoint>): Promise<string> => (await endpoint.body()).toString('utf8');
  const lostLine = (t: string): string | undefined => t.split('\n').find((l) => l.startsWith('exitscope_lost_events_total '));

  it('a scrape that throws half-way: the next one is written from the model, not the body before', async () => {
    const model = new MetricsModel();
    const endpoint = metricsEndpoint(model, { processMetrics: false });
    model.apply(hello);
    model.apply(lost(1, 1));
    expect(lostLine(await text(endpoint))).toBe('exitscope_lost_events_total 1');
    model.apply(lost(2, 5));
    // one family fails once (it reads the hello)
    const kept = model.hello;
    Object.defineProperty(model, 'hello', { configurable: true, get: () => { throw new Error('once'); } });
    await expect(endpoint.body()).rejects.toThrow('once');
    Object.defineProperty(model, 'hello', { configurable: true, writable: true, value: kept });
    expect(lostLine(await text(endpoint))).toBe('exitscope_lost_events_total 6');
    expect(await text(endpoint)).toBe(await metricsRegistry(model, { processMetrics: false }).metrics());
  });

  it('a VM counted before it was named: vm_info says its source once named', async () => {
    const model = new MetricsModel();
    const endpoint = metricsEndpoint(model, { processMetrics: false });
    model.apply(hello);
    model.apply(snap(1000, [7], 2));
    expect(await text(endpoint)).toMatch(/exitscope_vm_info\{vm="pid 7",pid="7",source="unknown"\} 1/);
    model.apply(vm(1500, 7, 'ci-7'));
    const t = await text(endpoint);
    expect(t).toMatch(/exitscope_vm_info\{vm="pid 7",pid="7",source="qemu"\} 1/);
    expect(t).toBe(await metricsRegistry(model, { processMetrics: false }).metrics());
  });
});
