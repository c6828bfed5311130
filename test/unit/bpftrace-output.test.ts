import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpftraceOutputParser, type CopyMaps, emptyCopy, type Frame, type OutputEvent } from '../../src/collector/bpftrace-output.js';
import { DeltaTracker } from '../../src/collector/deltas.js';

const FIX = join(import.meta.dirname, '../fixtures/bpftrace');
const MIX = readFileSync(join(FIX, 'mix-3-vcpus-2-npt-on.bpftrace.jsonl'), 'utf8');
const NPF_OFF = readFileSync(join(FIX, 'npf-1031-npt-off.bpftrace.jsonl'), 'utf8');

function parse(text: string, chunk = text.length): OutputEvent[] {
  const p = new BpftraceOutputParser();
  const out: OutputEvent[] = [];
  for (let i = 0; i < text.length; i += chunk) p.push(text.slice(i, i + chunk), (e) => out.push(e));
  p.end((e) => out.push(e));
  return out;
}
const frames = (ev: OutputEvent[]): Frame[] => ev.flatMap((e) => (e.kind === 'frame' ? [e.frame] : []));
/** The maps of a program without copies (the fixtures' program: one cumulative copy, number 0). */
const only = (f: Frame): CopyMaps => f.copies.get(0) ?? emptyCopy();
const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
/** The workload's tally, printed by bpftrace -c on the same stdout. */
const tallyOf = (text: string) => JSON.parse(text.split('\n').find((l) => l.startsWith('{"scenario"')) as string) as { expected: { reason: number; count: number }[]; pid: number };

describe('BpftraceOutputParser on real bpftrace 0.17 output (lab, see *.provenance.json)', () => {
  const ev = parse(MIX);
  const fs = frames(ev);

  it('sees the attach marker, interval frames and one final frame last', () => {
    expect(ev.some((e) => e.kind === 'attached')).toBe(true);
    expect(fs.length).toBeGreaterThan(5);
    expect(fs.filter((f) => f.final)).toHaveLength(1);
    expect(fs.at(-1)?.final).toBe(true);
    expect(fs.every((f, i) => i === 0 || f.tNs >= (fs[i - 1] as Frame).tNs)).toBe(true);
  });

  it('the final frame holds exactly what the workload says it caused', () => {
    const final = fs.at(-1) as Frame;
    const tally = tallyOf(MIX);
    for (const e of tally.expected) {
      let n = 0;
      for (const [k, v] of only(final).exits) if (k.startsWith(`${tally.pid},`) && k.endsWith(`,${e.reason}`)) n += v;
      expect(n, `reason ${e.reason}`).toBe(e.count);
    }
  });

  it('parses keyed histograms and handler maps', () => {
    const final = fs.at(-1) as Frame;
    expect(only(final).exitNs.size).toBeGreaterThan(0);
    const [key, buckets] = [...only(final).exitNs][0] as [string, { low: number; count: number }[]];
    expect(key).toMatch(/^\d+,\d+$/);
    expect(buckets.every((b) => b.count > 0 && b.low >= 0)).toBe(true);
    expect(sum(only(final).handlerCalls)).toBeGreaterThan(0);
  });

  it('gives the same events whatever the chunking (lines split across reads)', () => {
    for (const chunk of [1, 7, 4096]) expect(parse(MIX, chunk)).toEqual(ev);
  });

  it('keeps a UTF-8 character whole when a Buffer chunk splits it', () => {
    const text = `${MIX}{"type": "printf", "data": "warning: caf\u00e9 \u2603\\n"}\nbpftrace: caf\u00e9 \u2603 déjà\n`;
    const bytes = Buffer.from(text, 'utf8');
    const p = new BpftraceOutputParser();
    const out: OutputEvent[] = [];
    for (let i = 0; i < bytes.length; i += 3) p.push(bytes.subarray(i, i + 3), (e) => out.push(e));
    p.end((e) => out.push(e));
    expect(out).toEqual(parse(text));
    expect(out.at(-1)).toEqual({ kind: 'text', line: 'bpftrace: caf\u00e9 \u2603 déjà' });
  });

  it('reads the detail stream (exitscope:exit lines)', () => {
    const exits = ev.filter((e) => e.kind === 'exit');
    expect(exits.length).toBeGreaterThan(0);
    expect(exits[0]).toMatchObject({ kind: 'exit', exit: { isa: 2, rip: expect.stringMatching(/^0x[0-9a-f]+$/) } });
  });

  it('npt off: #PF intercepts, a shadow handler, no TDP handler call', () => {
    const final = frames(parse(NPF_OFF)).at(-1) as Frame;
    let pf = 0;
    for (const [k, v] of only(final).exits) if (k.endsWith(',2,78')) pf += v;
    expect(pf).toBe(1031);
    const handlers = JSON.parse(readFileSync(join(FIX, 'npf-1031-npt-off.bpftrace.jsonl.provenance.json'), 'utf8')).handlers as string[];
    const tdp = handlers.indexOf('kvm_tdp_page_fault');
    for (const [k] of only(final).handlerCalls) expect(k.endsWith(`,${tdp}`)).toBe(false);
  });

  it('reports "Lost N events" lines and lost_events records, and keeps odd lines as text', () => {
    const odd = parse('Lost 12 events\n{"type": "lost_events", "data": {"events": 3}}\nWARNING: something\n{not json\n');
    expect(odd).toEqual([
      { kind: 'lost', events: 12 },
      { kind: 'lost', events: 3 },
      { kind: 'text', line: 'WARNING: something' },
      { kind: 'text', line: '{not json' },
    ]);
  });

  it('ignores maps printed outside a frame (bpftrace dumps maps at exit)', () => {
    expect(frames(parse('{"type": "map", "data": {"@exits": {"1,2,2,120": 5}}}\n'))).toHaveLength(0);
  });
});

describe('DeltaTracker', () => {
  it('deltas of all frames add up to the final cumulative totals, exactly', () => {
    const fs = frames(parse(MIX));
    const d = new DeltaTracker();
    const total = new Map<string, number>();
    for (const f of fs) for (const e of d.apply(f).exits) total.set(`${e.pid},${e.tid},${e.isa},${e.reason}`, (total.get(`${e.pid},${e.tid},${e.isa},${e.reason}`) ?? 0) + e.n);
    expect(total).toEqual(only(fs.at(-1) as Frame).exits);
  });

  it('splits the latency key into isa and reason, and keeps only changed buckets', () => {
    const d = new DeltaTracker();
    const f = (n: number): Frame => ({ final: false, tNs: n * 1e9, copies: new Map([[0, { ...emptyCopy(), seen: new Set(['exitNs'] as const), exitNs: new Map([[`7,${2 * 2 ** 32 + 120}`, [{ low: 1024, count: n }, { low: 2048, count: 4 }]]]) }]]) });
    expect(d.apply(f(1)).exitNs).toEqual([{ pid: 7, isa: 2, reason: 120, b: [[1024, 1], [2048, 4]] }]);
    expect(d.apply(f(3)).exitNs).toEqual([{ pid: 7, isa: 2, reason: 120, b: [[1024, 2]] }]);
  });

  it('a lost map record (bpftrace dropped it) does not count anything twice: totals stay exact', () => {
    // the real capture with the @exits record of one middle interval removed
    const lines = MIX.split('\n');
    const exitMaps = lines.map((l, i) => (l.startsWith('{"type": "map", "data": {"@exits"') ? i : -1)).filter((i) => i >= 0);
    expect(exitMaps.length).toBeGreaterThan(3);
    const dropped = lines.filter((_, i) => i !== exitMaps[2]).join('\n');
    const d = new DeltaTracker();
    const total = new Map<string, number>();
    const fs = frames(parse(dropped));
    for (const f of fs) for (const e of d.apply(f).exits) total.set(`${e.pid},${e.tid},${e.isa},${e.reason}`, (total.get(`${e.pid},${e.tid},${e.isa},${e.reason}`) ?? 0) + e.n);
    expect(total).toEqual(only(frames(parse(MIX)).at(-1) as Frame).exits);
  });

  it('treats a smaller cumulative value as a restart (all new), and reset() forgets the baseline', () => {
    const d = new DeltaTracker();
    const f = (n: number): Frame => ({ final: false, tNs: 0, copies: new Map([[0, { ...emptyCopy(), seen: new Set(['exits'] as const), exits: new Map([['1,2,2,120', n]]) }]]) });
    expect(d.apply(f(10)).exits[0]?.n).toBe(10);
    expect(d.apply(f(15)).exits[0]?.n).toBe(5);
    expect(d.apply(f(15)).exits).toEqual([]);
    expect(d.apply(f(4)).exits[0]?.n).toBe(4);
    d.reset();
    expect(d.apply(f(6)).exits[0]?.n).toBe(6);
  });
});
