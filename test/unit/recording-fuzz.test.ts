/**
 * Property: ANY bytes given as a recording end in a UserError or in a report, never in another
 * exception, and in bounded memory. Thousands of cases made from the real fixture recordings
 * (bit flips, truncations, splices, random bytes, huge lines, NULs, invalid UTF-8, deep JSON,
 * extreme numbers, second hellos, ...), from a seeded PRNG: a failure prints the seed and the case
 * to rerun it (EXITSCOPE_FUZZ_SEED=... EXITSCOPE_FUZZ_CASES=...).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { isUserError } from '../../src/errors.js';
import { Aggregate } from '../../src/model/aggregate.js';
import { formatReport } from '../../src/report/format.js';
import { buildReport } from '../../src/report/report.js';
import { Message } from '../../src/protocol/messages.js';
import { parseRecording, readRecording } from '../../src/recording/recording.js';
import { fastSnapshot } from '../../src/recording/snapshot-fast-path.js';
import { plainTop } from '../../src/views/plain-top.js';
import { prng } from './support/prng.js';

const FIX = join(import.meta.dirname, '../fixtures/recordings');
const FIXTURES: Buffer[] = ['run-mix-3-vcpus-2-npt-on.jsonl', 'run-npf-1031-npt-off.jsonl'].map((f) => readFileSync(join(FIX, f)));
const SEED = Number(process.env.EXITSCOPE_FUZZ_SEED ?? 0x5eed_2026);
const CASES = Number(process.env.EXITSCOPE_FUZZ_CASES ?? 3000);
/** Small, so that the huge-line cases cross it without allocating hundreds of MB per case. */
const MAX_LINE = 256 * 1024;


type Mutation = (b: Buffer, r: Rng) => Buffer;
interface Rng {
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
}

const linesOf = (b: Buffer): string[] => b.toString('utf8').split('\n');
const fromLines = (ls: string[]): Buffer => Buffer.from(ls.join('\n'));
const EXTREME = ['1e308', '-1', '1e21', '9007199254740993', '0.5', '-0', '1e-7', '-1e308', '4294967296', '18446744073709551615', 'null', '"7"', 'true', '[]', '{}'];

const MUTATIONS: Record<string, Mutation> = {
  bitflips: (b, r) => {
    const c = Buffer.from(b);
    for (let i = 1 + r.int(20); i > 0; i--) {
      const at = r.int(c.length);
      c[at] = (c[at] as number) ^ (1 << r.int(8));
    }
    return c;
  },
  truncate: (b, r) => b.subarray(0, r.int(b.length + 1)),
  splice: (b, r) => {
    const from = r.int(b.length);
    const piece = b.subarray(from, from + r.int(2000));
    const at = r.int(b.length);
    return Buffer.concat([b.subarray(0, at), piece, b.subarray(at + r.int(200))]);
  },
  randomBytes: (_b, r) => Buffer.from(Array.from({ length: r.int(4096) }, () => r.int(256))),
  hugeLine: (b, r) => {
    const ls = linesOf(b);
    const fill = r.pick(['x', '[', '{"a":', '9', ' ', '"']);
    ls.splice(r.int(ls.length + 1), 0, fill.repeat(Math.ceil((MAX_LINE + 1 + r.int(MAX_LINE)) / fill.length)));
    return fromLines(ls);
  },
  nuls: (b, r) => {
    const c = Buffer.from(b);
    for (let i = 1 + r.int(10); i > 0; i--) c[r.int(c.length)] = 0;
    return c;
  },
  invalidUtf8: (b, r) => {
    const bad = r.pick([[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf]]);
    const at = r.int(b.length + 1);
    return Buffer.concat([b.subarray(0, at), Buffer.from(bad), b.subarray(at)]);
  },
  deepJson: (b, r) => {
    const ls = linesOf(b);
    const depth = 1000 + r.int(100_000);
    const deep = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    const line = r.pick([deep, `{"type":"snapshot","seq":1,"t":1,"ms":1,"exits":${deep},"exitNs":[],"faults":[],"regions":[],"handlers":[]}`, `{"type":"vm","event":"appeared","t":1,"pid":1,"name":${deep},"source":"qemu","vcpus":{}}`]);
    ls.splice(1 + r.int(ls.length), 0, line);
    return fromLines(ls);
  },
  extremeNumbers: (b, r) => {
    const s = b.toString('utf8');
    const numbers = [...s.matchAll(/-?\d+(\.\d+)?/g)];
    if (numbers.length === 0) return b;
    let out = s;
    for (let i = 1 + r.int(8); i > 0; i--) {
      const m = r.pick(numbers);
      const at = m.index ?? 0;
      out = out.slice(0, at) + r.pick(EXTREME) + out.slice(at + m[0].length);
    }
    return Buffer.from(out);
  },
  secondHello: (b, r) => {
    const ls = linesOf(b);
    ls.splice(r.int(ls.length + 1), 0, ls[0] as string);
    return fromLines(ls);
  },
  shuffleLines: (b, r) => {
    const ls = linesOf(b);
    for (let i = ls.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [ls[i], ls[j]] = [ls[j] as string, ls[i] as string];
    }
    return fromLines(ls);
  },
  retype: (b, r) => Buffer.from(b.toString('utf8').replace(/"type":"(\w+)"/g, (m) => (r.int(3) === 0 ? `"type":"${r.pick(['hello', 'snapshot', 'vm', 'lost', 'gap', 'error', 'exit', 'end', 'x', ''])}"` : m))),
  manyKeys: (b, r) => {
    // a valid but extreme snapshot: many distinct pids, tids, reasons and odd values
    const ls = linesOf(b);
    const exits = Array.from({ length: 1 + r.int(2000) }, () => ({ pid: r.int(5) - 1, tid: r.int(1 << 22), isa: r.pick([0, 1, 2, 3, -1]), reason: r.pick([0, 0x78, 0x400, 2 ** 32 - 1, r.int(2 ** 31)]), n: r.pick([0, 1, 2 ** 53 - 1, r.int(1000)]) }));
    const snap = { type: 'snapshot', seq: r.int(10), t: r.int(100_000), ms: r.pick([0, 1, 1000, 2 ** 53 - 1]), exits, exitNs: [{ pid: 1, isa: 2, reason: 0x78, b: [[0, 1], [2 ** 52, 3]] }], faults: [{ pid: 1, code: r.pick([0, 2 ** 53 - 1, 4294967302]), n: 1 }], regions: [{ pid: 1, region: 2 ** 53 - 1, n: 1 }], handlers: [{ pid: 1, h: r.int(50), n: 1, b: [] }] };
    ls.splice(1 + r.int(ls.length), 0, JSON.stringify(snap));
    return fromLines(ls);
  },
};

/** The hand-checked snapshot path accepts only what zod accepts, and builds exactly zod's message. */
function checkFastPath(bytes: Buffer): number {
  let accepted = 0;
  for (const line of bytes.toString('utf8').split('\n')) {
    if (line.length > 64 * 1024) continue;
    let j: unknown;
    try {
      j = JSON.parse(line);
    } catch {
      continue;
    }
    const fast = fastSnapshot(j);
    if (fast === undefined) continue;
    accepted++;
    expect(Message.parse(j)).toEqual(fast);
  }
  return accepted;
}

/** Read, model, report, every format: a string or a UserError, nothing else. */
function throughEverything(path: string, bytes: Buffer): string {
  const read = readRecording(path, { maxLineBytes: MAX_LINE });
  // the in-memory parser follows the same rules (its line limit is the caller's: cases stay small)
  if (bytes.length < 4 * MAX_LINE) expect(parseRecording(bytes.toString('utf8'), path).messages.length).toBeGreaterThanOrEqual(0);
  const agg = new Aggregate();
  let out = '';
  for (const m of read.messages) {
    agg.apply(m);
    if (m.type === 'snapshot') out = plainTop(agg, 10_000);
  }
  const reports = [buildReport(agg), buildReport(agg, agg.window(1000)), buildReport(agg, agg.window(60_000))];
  for (const r of reports) for (const f of ['text', 'json', 'csv', 'markdown'] as const) out += formatReport(r, f);
  return out;
}

it(`any bytes: a UserError or a report, never another throw (seed ${SEED}, ${CASES} cases)`, () => {
  const next = prng(SEED);
  const r: Rng = { int: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)] as never };
  const dir = mkdtempSync(join(tmpdir(), 'rec-fuzz-'));
  const names = Object.keys(MUTATIONS);
  const tally = { reports: 0, userErrors: 0, byMutation: {} as Record<string, number> };
  let peakHeap = 0;
  let fastAccepted = 0;
  for (let i = 0; i < CASES; i++) {
    // one to three mutations stacked, on one of the real recordings
    let bytes: Buffer = r.pick(FIXTURES);
    const applied: string[] = [];
    for (let k = 1 + r.int(3); k > 0; k--) {
      const name = r.pick(names);
      applied.push(name);
      bytes = (MUTATIONS[name] as Mutation)(bytes, r);
      tally.byMutation[name] = (tally.byMutation[name] ?? 0) + 1;
    }
    const path = join(dir, `case-${i % 16}.jsonl`);
    writeFileSync(path, bytes);
    fastAccepted += checkFastPath(bytes);
    try {
      expect(typeof throughEverything(path, bytes)).toBe('string');
      tally.reports++;
    } catch (e) {
      if (!isUserError(e)) {
        console.log(`recording fuzz: seed ${SEED}, case ${i} (${applied.join(' + ')}) threw ${String(e)}; bytes kept at ${path}`);
        throw e;
      }
      tally.userErrors++;
    }
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }
  console.log(`recording fuzz: seed ${SEED}, ${CASES} cases: ${tally.reports} reports, ${tally.userErrors} UserErrors, peak heap ${(peakHeap / 2 ** 20).toFixed(0)} MiB; ${fastAccepted} snapshot lines on the fast path, each equal to zod's; mutations ${JSON.stringify(tally.byMutation)}`);
  expect(tally.reports + tally.userErrors).toBe(CASES);
  expect(fastAccepted).toBeGreaterThan(CASES / 2);
  // both outcomes happen: the mutations are neither all harmless nor all fatal
  expect(tally.reports).toBeGreaterThan(CASES / 10);
  expect(tally.userErrors).toBeGreaterThan(CASES / 100);
  // bounded: lines over MAX_LINE are never held; nothing here needs more than a few hundred MB
  expect(peakHeap).toBeLessThan(768 * 2 ** 20);
}, 120_000);
