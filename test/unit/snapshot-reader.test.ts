/**
 * SnapshotReader (the collector's reader) against the reference it replaces: BpftraceOutputParser +
 * DeltaTracker, fed the same bytes. Every snapshot (deltas, in order), its interval, the fill count
 * and every other event must be identical: on real bpftrace 0.17 captures, split at every position,
 * and on generated output of the rotating program (copies printed twice, cleared, an epoch that
 * waits, late events, lost and doubled prints, shapes the fast scanner leaves to JSON.parse).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpftraceOutputParser, type OutputEvent } from '../../src/collector/bpftrace-output.js';
import { largestMap } from '../../src/collector/collector.js';
import { DeltaTracker } from '../../src/collector/deltas.js';
import { type ReaderEvent, SnapshotReader } from '../../src/collector/snapshot-reader.js';
import { prng } from './support/prng.js';
import { RotatingKernel } from './support/rotating-kernel.js';

const FIX = join(import.meta.dirname, '../fixtures/bpftrace');
const MIX = readFileSync(join(FIX, 'mix-3-vcpus-2-npt-on.bpftrace.jsonl'));
const NPF_OFF = readFileSync(join(FIX, 'npf-1031-npt-off.bpftrace.jsonl'));
// bpftrace 0.23.2, keys by thread (probes/dialect.ts threadKeys), 3 copies: scripts/stress-stop.mjs
const THREAD_KEYS = readFileSync(join(FIX, 'thread-keys-0.23.bpftrace.jsonl'));

/** What the collector takes from either reader, in order. */
type Seen = unknown[];

function reference(chunks: Buffer[]): { seen: Seen; remembered: number } {
  const parser = new BpftraceOutputParser();
  const deltas = new DeltaTracker();
  const seen: Seen = [];
  const on = (e: OutputEvent): void => {
    if (e.kind === 'attached') deltas.started(e.tNs);
    if (e.kind !== 'frame') {
      seen.push(e);
      return;
    }
    const ms = deltas.intervalMs(e.frame);
    const d = deltas.apply(e.frame);
    const f = e.frame;
    seen.push({ kind: 'snapshot', frame: { final: f.final, tNs: f.tNs, ...(f.active !== undefined ? { active: f.active } : {}), ...(f.cleared !== undefined ? { cleared: f.cleared } : {}) }, ms, deltas: d, largestMap: largestMap(f), remembered: deltas.rememberedKeys() });
  };
  for (const c of chunks) parser.push(c, on);
  parser.end(on);
  return { seen, remembered: deltas.rememberedKeys() };
}

function reader(chunks: Buffer[]): { seen: Seen; remembered: number } {
  const r = new SnapshotReader();
  const seen: Seen = [];
  const on = (e: ReaderEvent): void => {
    if (e.kind === 'attached') r.started(e.tNs);
    seen.push(e.kind === 'snapshot' ? { ...e, remembered: r.rememberedKeys() } : e);
  };
  for (const c of chunks) r.push(c, on);
  r.end(on);
  return { seen, remembered: r.rememberedKeys() };
}

const at = (b: Buffer, cuts: number[]): Buffer[] => {
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...cuts, b.length]) {
    out.push(b.subarray(from, c));
    from = c;
  }
  return out;
};

function expectSame(bytes: Buffer, cuts: number[] = []): void {
  const chunks = at(bytes, cuts);
  expect(JSON.stringify(reader(chunks))).toBe(JSON.stringify(reference(chunks)));
}

describe('SnapshotReader: the same snapshots as BpftraceOutputParser + DeltaTracker', () => {
  it('on real bpftrace 0.17 output (the fixtures, one cumulative copy), whole and in 64 KiB reads', () => {
    for (const f of [MIX, NPF_OFF]) {
      const ref = reference([f]);
      expect(ref.seen.filter((e) => (e as { kind: string }).kind === 'snapshot').length).toBeGreaterThan(3);
      expectSame(f);
      expectSame(f, Array.from({ length: Math.floor(f.length / 65536) }, (_, i) => (i + 1) * 65536));
    }
  });

  it('on real bpftrace 0.23 output keyed by thread: the same deltas, fill count and memory count, whole and split', () => {
    const ref = reference([THREAD_KEYS]);
    const snaps = ref.seen.filter((e) => (e as { kind: string }).kind === 'snapshot') as { largestMap: number }[];
    expect(snaps.length).toBeGreaterThan(3);
    expectSame(THREAD_KEYS);
    expectSame(THREAD_KEYS, Array.from({ length: 40 }, (_, i) => Math.floor(((i + 1) * THREAD_KEYS.length) / 41)));
    // the fill count is the kernel's: the largest print's keys by thread, more than its keys by process
    const keysInLine = (l: string): number => (l.match(/"\d+,\d+,\d+": \d+/g) ?? []).length;
    const mostRaw = Math.max(...THREAD_KEYS.toString('utf8').split('\n').filter((l) => /"@(faults|fault_regions_2m)\d"/.test(l)).map(keysInLine));
    expect(Math.max(...snaps.map((x) => x.largestMap))).toBeGreaterThanOrEqual(mostRaw);
  });

  it('with a line split across two reads at every position (a fixture)', () => {
    const want = JSON.stringify(reference([NPF_OFF]));
    for (let cut = 0; cut <= NPF_OFF.length; cut++) expect(JSON.stringify(reader(at(NPF_OFF, [cut]))), `cut at ${cut}`).toBe(want);
  });

  it('with a UTF-8 character split between reads (bpftrace text on stdout)', () => {
    const text = Buffer.from('{"type": "printf", "data": "exitscope:attached 5\\n"}\nbpftrace: caf\u00e9 \u2603 warning\n');
    const want = JSON.stringify(reference([text]));
    for (let cut = 0; cut <= text.length; cut++) expect(JSON.stringify(reader(at(text, [cut])))).toBe(want);
  });

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`on generated output of the rotating program (seed ${seed}), whole and split at random`, () => {
      const bytes = Buffer.from(generated(seed));
      const ref = reference([bytes]);
      // the input exercises what it should: snapshots with deltas, a cleared copy, an epoch that waited
      const snaps = ref.seen.filter((e) => (e as { kind: string }).kind === 'snapshot') as { deltas: { exits: unknown[] }; frame: { cleared?: number; active?: number } }[];
      expect(snaps.length).toBeGreaterThan(20);
      expect(snaps.some((s) => s.deltas.exits.length > 0)).toBe(true);
      expect(snaps.some((s) => s.frame.cleared !== undefined)).toBe(true);
      expectSame(bytes);
      const rand = prng(seed * 7919);
      for (let k = 0; k < 20; k++) {
        const cuts = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 12) }, () => Math.floor(rand() * bytes.length)))].sort((a, b) => a - b);
        expectSame(bytes, cuts);
      }
    });
  }

  it('on output of the program that keys exits by VM (tid 0, the exporter without --metrics-vcpu), whole and split', () => {
    for (const seed of [21, 22, 23]) {
      const bytes = Buffer.from(generated(seed, 60, { byVm: true }));
      const ref = reference([bytes]);
      const exits = ref.seen.flatMap((e) => ((e as { kind: string }).kind === 'snapshot' ? (e as { deltas: { exits: { pid: number; tid: number }[] } }).deltas.exits : []));
      expect(exits.length).toBeGreaterThan(50);
      // one entry per VM and reason, tid 0: no thread is invented
      expect(exits.every((x) => x.tid === 0 && x.pid >= 1000)).toBe(true);
      expectSame(bytes);
      const rand = prng(seed);
      for (let k = 0; k < 10; k++) expectSame(bytes, [Math.floor(rand() * bytes.length)]);
    }
  });

  it('when SIGINT drops part of an interval\'s events (the final marker\'s @pending times), exact too', () => {
    let trials = 0;
    for (const [every, behind] of [[1, 1], [1, 2], [1, 3], [4, 2], [4, 5]] as const) {
      for (let batch = 1; batch <= behind; batch++) {
        for (let done = 0; done < 30; done++) {
          for (const endFirst of [false, true]) {
            // every 4: the epoch moving every 4th interval (-i 250, program.ts rotateEvery)
            const k = new RotatingKernel(3, true, true, every);
            const lines: string[] = [];
            for (let tick = 0; tick < 6; tick++) {
              k.event(7, 8, 0x7b, 1 + tick);
              k.event(9, 10, 0x30, 2);
              // copies of different sizes: the fill check (largestMap) sees which copy it counts
              for (let j = 0; j < 2 * (6 - tick); j++) k.event(100 + j, 101 + j, 0x1e);
              k.tick();
              if (tick < 6 - behind) lines.push(...k.userSpace());
            }
            try {
              lines.push(...k.interrupt({ batch, done, endFirst }));
            } catch {
              continue; // done is past this batch
            }
            trials++;
            const bytes = Buffer.from(`${lines.join('\n')}\n`);
            expectSame(bytes);
            const totals = new Map<string, number>();
            for (const e of reader([bytes]).seen as { kind: string; deltas?: { exits: { pid: number; tid: number; isa: number; reason: number; n: number }[] } }[]) {
              for (const x of e.deltas?.exits ?? []) totals.set(`${x.pid},${x.tid},${x.isa},${x.reason}`, (totals.get(`${x.pid},${x.tid},${x.isa},${x.reason}`) ?? 0) + x.n);
            }
            expect([...totals].sort(), `every ${every} behind ${behind} batch ${batch} done ${done} endFirst ${endFirst}`).toEqual([...k.truth].sort());
          }
        }
      }
    }
    expect(trials).toBeGreaterThan(100);
  });

  it('on generated output split at every position of one frame', () => {
    const bytes = Buffer.from(generated(11, 4));
    const want = JSON.stringify(reference([bytes]));
    for (let cut = 0; cut <= bytes.length; cut += 1) expect(JSON.stringify(reader(at(bytes, [cut]))), `cut at ${cut}`).toBe(want);
  });

  it('lines in shapes the scanner refuses are read the old way, with the same result', () => {
    const odd = [
      '{"type": "map", "data": {"@exits0": {"1,2,2,120": 1.5}}}',
      '{"type": "map", "data": {"@exits0": {"1,2,2,120": 1e3}}}',
      '{"type": "map", "data": {"@exits0": {"1,2,2,120": -4}}}',
      '{"type": "map", "data": {"@exits0": {"1,2,2,120": 12345678901234567}}}',
      '{"type": "map", "data": {"@exits0": {"01,2,2,120": 4}}}',
      '{"type": "map", "data": {"@exits0": {"1,2,120": 4, "1,2,2,120,9": 5}}}',
      '{"type": "map", "data": {"@exits0": {"abc": 4}}}',
      '{"type": "map", "data": {"@exits0": {"1,2,2,120": 4}, "@faults0": {"1,2": 3}}}',
      '{"data": {"@exits0": {"1,2,2,120": 4}}, "type": "map"}',
      '{"type": "map", "data": {"@exits0": {"1,2,2,120": 4}}} trailing',
      '{"type": "map", "data": {"@exits0": {"1,2,2,120": 4}}',
      '{"type":"map","data":{"@exits0":{"1,2,2,120":4,"1,3,2,120":0}}}',
      '  {"type": "map", "data": {"@exits0": {"1,2,2,120": 4}}}  ',
      '{"type": "hist", "data": {"@exit_ns0": {"1,8589934712": [{"min": 8, "max": 15, "count": 2}, {"min": 4, "max": 7, "count": 1}]}}}',
      '{"type": "hist", "data": {"@exit_ns0": {"1,8589934712": [{"max": -1, "count": 2}, {"min": 0, "max": 0, "count": 1}, {"min": 1, "max": 1, "count": 0}]}}}',
      '{"type": "hist", "data": {"@exit_ns0": {"1,8589934712": [{"min": 8, "max": 15}, {"min": 16, "max": 31, "count": 3}]}}}',
      // bpftrace's spelling but numbers the fast path leaves to the slower reads: a minus, a leading zero, too many digits, a missing space
      '{"type": "hist", "data": {"@exit_ns0": {"1,8589934712": [{"min": -8, "max": -5, "count": 2}, {"min": 4, "max": 7, "count": 1}]}}}',
      '{"type": "hist", "data": {"@exit_ns0": {"1,8589934712": [{"min": 08, "max": 15, "count": 2}]}}}',
      '{"type": "hist", "data": {"@exit_ns0": {"1,8589934712": [{"min": 8, "max": 15, "count": 1234567890123456}]}}}',
      '{"type": "hist", "data": {"@exit_ns0": {"1,8589934712": [{"min": 8, "max":15, "count": 2}, {"min": 16, "max": 31, "count":3}]}}}',
      '{"type": "hist", "data": {"@exit_ns0": {"1,8589934712": [{"min": 8, "max": 15, "count": 2 }]}}}',
      '{"type": "hist", "data": {"@exit_ns0": {"1,8589934712": [{"min": 8, "max": 15, "count": 2, "extra": 1}]}}}',
      '{"type": "hist", "data": {"@exit_ns0": {"1,8589934712": [], "1,8589934713": [{"min": 8, "max": 15, "count": 2}]}}}',
      '{"type": "hist", "data": {"@handler_ns0": {"1,0": [{"min": 8, "max": 15, "count": 2}, {"min": 8, "max": 15, "count": 2}]}}}',
      '{"type": "map", "data": {"@exit_ns0": {"1,8589934712": 4}}}',
      '{"type": "map", "data": {"@exits9": {"1,2,2,120": 4}}}',
    ];
    const frame = (t: number, active: number, cleared: string, lines: string[]): string[] => [`{"type": "printf", "data": "exitscope:begin ${t} ${active} ${cleared}\\n"}`, ...lines, '{"type": "printf", "data": "exitscope:end\\n"}'];
    for (const line of odd) {
      const usual = '{"type": "map", "data": {"@exits0": {"1,2,2,120": 9, "1,2,2,123": 3}}}';
      const text = [
        '{"type": "printf", "data": "exitscope:attached 1000\\n"}',
        ...frame(2000, 0, '-', [line]),
        ...frame(3000, 1, '0', [usual, line]),
        ...frame(4000, 2, '1', [line, usual]),
      ].join('\n');
      const bytes = Buffer.from(`${text}\n`);
      expect(JSON.stringify(reader([bytes])), line).toBe(JSON.stringify(reference([bytes])));
    }
  });

  it('reads the usual frame without the old way: the active copy scanned, the closing copy compared', () => {
    // a spy on the inner parser's JSON path: only markers go there when every map line is the usual shape
    const bytes = Buffer.from(generated(5, 30, { quirks: false, late: false }));
    const r = new SnapshotReader();
    const inner = (r as unknown as { inner: BpftraceOutputParser }).inner;
    const mapLines: string[] = [];
    const line = inner.line.bind(inner);
    inner.line = (raw, out) => {
      if (raw.includes('"data": {"@')) mapLines.push(raw);
      line(raw, out);
    };
    let snapshots = 0;
    r.push(bytes, (e) => void (e.kind === 'snapshot' && snapshots++));
    expect(snapshots).toBeGreaterThan(20);
    expect(mapLines).toEqual([]);
    expect(JSON.stringify(reader([bytes]))).toBe(JSON.stringify(reference([bytes])));
  });
});

/**
 * bpftrace -f json output of our program with 3 copies, as a model of the kernel and bpftrace's
 * queue (as test/unit/support/rotating-kernel.ts, for every map): probes count into the epoch's
 * copy; the interval probe queues begin, prints, end, the clear; user space does the queue later,
 * sometimes after more events (late events change a copy between its two prints) and sometimes
 * lagging (the epoch waits). quirks: lost and doubled prints, empty maps, other spacing, buckets in
 * other orders, and lines the fast scanner must leave to JSON.parse. late: false for a host where user
 * space keeps up and no event races the epoch's move.
 */
/** byVm: @exits keyed [pid, 0, isa, reason], as the exporter's program without --metrics-vcpu (program.ts exitsByThread). */
function generated(seed: number, intervals = 60, o: { quirks?: boolean; late?: boolean; byVm?: boolean } = {}): string {
  const quirks = o.quirks ?? true;
  const late = o.late ?? true;
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const COPIES = 3;
  const FIELDS = [
    ['@exits', 'map'],
    ['@exit_ns', 'hist'],
    ['@faults', 'map'],
    ['@fault_regions_2m', 'map'],
    ['@handler_calls', 'map'],
    ['@handler_ns', 'hist'],
  ] as const;
  const maps = Array.from({ length: COPIES }, () => FIELDS.map(() => new Map<string, number | Map<number, number>>()));
  /** @pendingN: the time of the interval whose clear of the copy is queued, else 0. */
  const pending = Array.from({ length: COPIES }, () => 0);
  type Work = { line: string } | { print: number } | { clear: number } | { unpend: number };
  const queue: Work[] = [];
  const out: string[] = ['{"type": "attached_probes", "data": {"probes": 17}}', '{"type": "printf", "data": "exitscope:attached 1000000000\\n"}'];
  let epoch = 0;
  let closing = false;
  let t = 1e9;
  const vms = Array.from({ length: 2 + Math.floor(rand() * 5) }, (_, v) => 1000 + v * 10);
  const count = (n: number): void => {
    for (let k = 0; k < n; k++) {
      const pid = pick(vms);
      const c = maps[epoch] as Map<string, number | Map<number, number>>[];
      const f = Math.floor(rand() * FIELDS.length);
      const m = c[f] as Map<string, number | Map<number, number>>;
      const reason = pick([120, 123, 1024, 96, 0x7c, 4294967295]);
      const tid = pid + 1 + Math.floor(rand() * 3);
      const key = f === 0 ? `${pid},${o.byVm ? 0 : tid},2,${reason}` : f === 1 ? `${pid},${2 * 2 ** 32 + reason}` : `${pid},${Math.floor(rand() * (f === 3 ? 40 : 4))}`;
      if (FIELDS[f]?.[1] === 'hist') {
        let h = m.get(key) as Map<number, number> | undefined;
        if (!h) m.set(key, (h = new Map()));
        const slot = pick([0, 1, 2, 14, 15, 16, 17, 20]);
        h.set(slot, (h.get(slot) ?? 0) + 1 + Math.floor(rand() * 5));
      } else m.set(key, ((m.get(key) as number | undefined) ?? 0) + 1 + Math.floor(rand() * 100));
    }
  };
  const lowOf = (slot: number): number => (slot === 0 ? 0 : 2 ** (slot - 1));
  const histText = (h: Map<number, number>): string => {
    const slots = [...h.keys()].sort((a, b) => a - b);
    const parts: string[] = [];
    for (let s = slots[0] as number; s <= (slots[slots.length - 1] as number); s++) {
      const low = lowOf(s);
      const count = h.get(s) ?? 0;
      const q = quirks ? rand() : 1;
      // bpftrace's shape, and now and then one a scanner must not take (or may: another order)
      parts.push(q < 0.01 ? `{"count": ${count}, "max": ${Math.max(0, 2 * low - 1)}, "min": ${low}}` : q < 0.015 ? `{"max": ${Math.max(0, 2 * low - 1)}, "count": ${count}}` : q < 0.02 ? `{"min": ${low}.0, "max": ${2 * low}, "count": ${count}}` : `{"min": ${low}, "max": ${Math.max(0, 2 * low - 1)}, "count": ${count}}`);
    }
    if (quirks && rand() < 0.01) parts.reverse();
    return `[${parts.join(', ')}]`;
  };
  const print = (copy: number): void => {
    FIELDS.forEach(([name, type], f) => {
      const m = (maps[copy] as Map<string, number | Map<number, number>>[])[f] as Map<string, number | Map<number, number>>;
      const q = quirks ? rand() : 1;
      if (q < 0.02) return; // a print lost (bpftrace dropped the record)
      if (m.size === 0 && !(quirks && q < 0.04)) return; // an empty map prints nothing (most of the time)
      const entries = [...m].map(([k, v]) => `"${k}": ${typeof v === 'number' ? (quirks && rand() < 0.005 ? `${v}.0` : v) : histText(v)}`);
      const sep = quirks && rand() < 0.05 ? ',' : ', ';
      const line = `{"type": "${type}", "data": {"${name}${copy}": {${entries.join(sep)}}}}`;
      out.push(quirks && rand() < 0.03 ? line.replace(/": /g, '":') : line);
      if (quirks && rand() < 0.01) out.push(line); // printed twice in one frame
      if (quirks && rand() < 0.005) out.push(`{"type": "${type === 'map' ? 'hist' : 'map'}", "data": {"${name}${copy}": {}}}`);
      if (quirks && rand() < 0.005) out.push(`{"type": "map", "data": {"@other${copy}": {"1,2": 3}}}`);
    });
  };
  const userSpace = (n: number): void => {
    for (let i = 0; i < n && queue.length; i++) {
      const w = queue.shift() as Work;
      if ('line' in w) out.push(w.line);
      else if ('print' in w) print(w.print);
      else if ('clear' in w) for (const m of maps[w.clear] as Map<string, unknown>[]) m.clear();
      else pending[w.unpend] = 0;
    }
  };
  const printf = (text: string): Work => ({ line: `{"type": "printf", "data": "${text}\\n"}` });
  for (let i = 0; i < intervals; i++) {
    count(Math.floor(rand() * 40));
    t += 1e9;
    const prev = (epoch + COPIES - 1) % COPIES;
    const next = (epoch + 1) % COPIES;
    if (closing) {
      queue.push(printf(`exitscope:begin ${t} ${epoch} ${prev}`), { print: epoch }, { print: prev }, printf('exitscope:end'));
      pending[prev] = t;
      queue.push({ clear: prev }, { unpend: prev });
    } else queue.push(printf(`exitscope:begin ${t} ${epoch} -`), { print: epoch }, printf('exitscope:end'));
    if (!pending[next]) {
      epoch = next;
      closing = true;
    } else closing = false;
    // user space: usually all of it at once; sometimes part, with late events in between
    const r = late ? rand() : 1;
    if (r < 0.15) {
      userSpace(1 + Math.floor(rand() * 4));
      count(Math.floor(rand() * 5));
    } else if (r < 0.25) continue; // lags a whole interval
    userSpace(Number.POSITIVE_INFINITY);
    if (quirks && rand() < 0.05) out.push('{"type": "printf", "data": "exitscope:exit 1000 1001 2 123 4096 0 0\\n"}', '{"type": "lost_events", "data": {"events": 3}}', 'Lost 2 events');
  }
  userSpace(Number.POSITIVE_INFINITY);
  queue.push(printf(`exitscope:final ${t + 1} ${pending.join(' ')}`));
  for (let c = 0; c < COPIES; c++) queue.push({ print: c });
  queue.push(printf('exitscope:end'));
  userSpace(Number.POSITIVE_INFINITY);
  return `${out.join('\n')}\n`;
}
