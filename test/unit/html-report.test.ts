/**
 * The HTML report's parts: the bounded stream adds up to the same Report as the recording (exact,
 * whatever the bound), at most MAX_POINTS points; the page is one file whose embedded JSON cannot
 * close its element and whose texts from the recording are never markup; the numbers shown are the
 * text report's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { boundedMessages, MAX_POINTS } from '../../src/html-report/bounded-messages.js';
import { embeddedJson, renderHtmlReport } from '../../src/html-report/render.js';
import { timeSeries } from '../../src/html-report/time-series.js';
import { niceStep } from '../../src/html-report/svg-chart.js';
import { Aggregate } from '../../src/model/aggregate.js';
import type { Message, SnapshotMessage } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { formatReport } from '../../src/report/format.js';
import { buildReport } from '../../src/report/report.js';
import { livePage } from '../../src/server/live-page.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/recordings');
const fixture = (name: string): Message[] => parseRecording(readFileSync(join(FIXTURES, name), 'utf8')).messages;
const reportOf = (ms: Iterable<Message>) => {
  const agg = new Aggregate(0);
  for (const m of ms) agg.apply(m);
  return buildReport(agg);
};

/** A long recording made from a real one: its snapshots repeated with shifted times, VMs renamed, losses and gaps on the way. */
function longRecording(base: Message[], repeats: number): Message[] {
  const hello = base[0] as Message;
  const snaps = base.filter((m): m is SnapshotMessage => m.type === 'snapshot' && !m.final);
  const vm = base.find((m) => m.type === 'vm');
  const out: Message[] = [hello];
  let t = 0;
  let seq = 0;
  for (let i = 0; i < repeats; i++) {
    for (const s of snaps) {
      t += s.ms;
      out.push({ ...s, seq: seq++, t });
      if (seq % 7 === 0) out.push({ type: 'lost', t, events: seq });
      if (seq % 97 === 0) out.push({ type: 'gap', t, reason: `bpftrace exited (${seq})`, resumed: true });
      if (seq % 89 === 0) out.push({ type: 'exit', t, pid: 1, tid: 2, isa: 2, reason: 120, rip: '0x0', info1: '0', info2: '0' });
    }
    if (vm?.type === 'vm' && i % 50 === 0) out.push({ ...vm, t, event: 'updated', name: `renamed-${i}`, vcpus: { [String(100 + i)]: i } });
  }
  out.push({ type: 'end', t, complete: true });
  return out;
}

describe('the bounded stream', () => {
  it.each(['run-mix-3-vcpus-2-npt-on.jsonl', 'run-npf-1031-npt-off.jsonl'])('%s: small enough to embed as it is, the same report', (name) => {
    const messages = fixture(name);
    const b = boundedMessages(() => messages);
    expect(b.perPoint).toBe(1);
    expect(b.messages.filter((m) => m.type === 'snapshot')).toHaveLength(messages.filter((m) => m.type === 'snapshot').length);
    expect(reportOf(b.messages)).toEqual(reportOf(messages));
  });

  it('a long recording: at most MAX_POINTS snapshots, the same report exactly (counts, latency, lost, gaps, VMs)', () => {
    const messages = longRecording(fixture('run-mix-3-vcpus-2-npt-on.jsonl'), 1000);
    const snapshots = messages.filter((m) => m.type === 'snapshot').length;
    expect(snapshots).toBeGreaterThan(MAX_POINTS * 3);
    const b = boundedMessages(() => messages);
    const points = b.messages.filter((m): m is SnapshotMessage => m.type === 'snapshot');
    expect(points.length).toBeLessThanOrEqual(MAX_POINTS);
    expect(b.perPoint).toBe(Math.ceil(snapshots / MAX_POINTS));
    expect(points.reduce((n, p) => n + (p.merged ?? 1), 0)).toBe(snapshots);
    expect(b.messages.some((m) => m.type === 'exit')).toBe(false);
    const original = reportOf(messages);
    expect(original.lostEvents).toBeGreaterThan(0);
    expect(original.gaps.length).toBeGreaterThan(0);
    expect(original.vms[0]?.name).toMatch(/^renamed-/);
    expect(reportOf(b.messages)).toEqual(original);
    expect(formatReport(reportOf(b.messages), 'text')).toBe(formatReport(original, 'text'));
    // time runs forward, and the end is last
    const ts = b.messages.flatMap((m) => (m.type === 'hello' || m.type === 'vm' ? [] : [m.t]));
    expect(ts).toEqual([...ts].sort((x, y) => x - y));
    expect(b.messages.at(-1)?.type).toBe('end');
  });

  it('many gaps and errors: the page rebuilds as many as the report says (the model keeps the same number)', () => {
    const base = fixture('run-npf-1031-npt-off.jsonl');
    const end = base.at(-1) as Message;
    const noisy: Message[] = [...base.slice(0, -1)];
    for (let i = 0; i < 1200; i++) {
      noisy.push({ type: 'gap', t: 10_000 + i, reason: `bpftrace exited (${i})`, resumed: true });
      noisy.push({ type: 'error', t: 10_000 + i, code: 'BPFTRACE_DIED', message: `died ${i}` });
    }
    noisy.push(end);
    const original = reportOf(noisy);
    expect(original.gaps.length).toBeGreaterThan(100);
    expect(reportOf(boundedMessages(() => noisy).messages)).toEqual(original);
  });

  it('any bound: still the same report (a few points, or one)', () => {
    const messages = longRecording(fixture('run-npf-1031-npt-off.jsonl'), 30);
    for (const max of [1, 2, 7, 64]) {
      const b = boundedMessages(() => messages, max);
      expect(b.messages.filter((m) => m.type === 'snapshot').length).toBeLessThanOrEqual(max);
      expect(reportOf(b.messages)).toEqual(reportOf(messages));
    }
  });
});

describe('the page', () => {
  const messages = fixture('run-mix-3-vcpus-2-npt-on.jsonl');
  const report = reportOf(messages);

  it('shows the text report numbers: each reason with its count, and the total', () => {
    const page = livePage({ embeddedMessages: messages });
    const html = renderHtmlReport({ report, messages, source: 'x.jsonl', perPoint: 1, page });
    for (const r of report.exits) expect(html).toContain(`data-isa="${r.isa}" data-reason="${r.reason}" data-count="${r.count}"`);
    expect(html).toContain(`<b id="report-total-exits">${report.totalExits}</b>`);
    for (const h of report.hints) expect(html).toContain(h.message.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&apos;'));
    // no network: a CSP in the file that lets only the page's own script run; no src or href in the markup
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-${page.scriptHashes[0]}';`);
    expect(html.replace(/<script>[^]*?<\/script>/g, '')).not.toMatch(/\s(src|href)=/);
    // one recording element (the page's), and the report's JSON
    expect(html.match(/id="exitscope-recording"/g)).toHaveLength(1);
    expect(JSON.parse(/<script type="application\/json" id="exitscope-report">([^<]*)<\/script>/.exec(html)?.[1] ?? '')).toEqual(report);
  });

  it('texts from the recording are never markup; the embedded JSON cannot end its element and reads back the same', () => {
    const markup = '</script><script>alert(1)</script><img src=x onerror=alert(2)>\u2028&amp;';
    const hostile = messages.map((m) => (m.type === 'hello' ? { ...m, host: markup, startedAt: markup } : m.type === 'vm' ? { ...m, name: markup } : m));
    const r = reportOf(hostile);
    const html = renderHtmlReport({ report: r, messages: hostile, source: '<b>.jsonl', perPoint: 1, page: livePage({ embeddedMessages: hostile }) });
    const markupOnly = html.replace(/<script>[^]*?<\/script>/g, ''); // the page's own (bundled) script aside
    expect(markupOnly).not.toContain('<img');
    expect(markupOnly).not.toContain('<b>.jsonl');
    expect(markupOnly.match(/<script/g)).toHaveLength(2); // the two JSON elements, nothing else
    const json = /<script type="application\/json" id="exitscope-recording">([^<]*)<\/script>/.exec(html)?.[1] ?? '';
    expect(JSON.parse(json)).toEqual(hostile);
    expect(embeddedJson('<\u2029')).toBe('"\\u003c\\u2029"');
  });
});

describe('time series and chart scale', () => {
  it('exits per second per point: the sum over points times their lengths is the total', () => {
    const messages = fixture('run-mix-3-vcpus-2-npt-on.jsonl');
    const ts = timeSeries(messages);
    const snaps = messages.filter((m): m is SnapshotMessage => m.type === 'snapshot');
    const total = ts.total.values.reduce((n, v, i) => n + (v * (snaps[i]?.ms ?? 0)) / 1000, 0);
    expect(Math.round(total)).toBe(reportOf(messages).totalExits);
    expect(ts.reasons[0]?.name).toBe(reportOf(messages).exits[0]?.name);
  });

  it('round steps', () => {
    expect([niceStep(100), niceStep(7), niceStep(0), niceStep(52_000)]).toEqual([20, 2, 1, 20_000]);
  });
});
