import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainRaw, formatExplanation } from '../../src/diagnose/explain-raw.js';

const FIXTURES = join(__dirname, '..', 'fixtures', 'bpftrace');
// a real capture (provenance beside it): bpftrace stopped while an interval's clear was still queued
const sigint = readFileSync(join(FIXTURES, 'sigint-dropped-clear.bpftrace.jsonl'));
const lab = readFileSync(join(FIXTURES, 'mix-3-vcpus-2-npt-on.bpftrace.jsonl'));

describe('explainRaw: what a count is made of, frame by frame, by both readers', () => {
  it('reads every frame the bytes hold, and both readers agree frame by frame', () => {
    for (const bytes of [sigint, lab]) {
      for (const field of ['exits', 'faults'] as const) {
        const x = explainRaw(bytes, field);
        expect(x.frames.length).toBeGreaterThan(0);
        expect(x.frames.length).toBe(x.markers);
        for (const f of x.frames) expect(f.fast).toBe(f.reference);
        expect(x.total.fast).toBe(x.total.reference);
        expect(x.total.reference).toBe(x.frames.reduce((a, f) => a + f.reference, 0));
      }
    }
  });

  it('a copy END found uncleared by the frame we read clear it: printed, counted nothing', () => {
    const x = explainRaw(sigint, 'exits');
    const final = x.frames.at(-1);
    expect(final?.final).toBe(true);
    const clearedAt = new Map(x.frames.filter((f) => f.cleared !== undefined).map((f) => [f.cleared as number, f.tNs]));
    const skipped = [...(final?.uncleared ?? [])].filter(([copy, t]) => clearedAt.get(copy) === t);
    expect(skipped.length).toBeGreaterThan(0);
    // what the final frame counted is exactly what its other copies held beyond their last print
    const lastHeld = new Map<number, number>();
    for (const f of x.frames.slice(0, -1)) {
      for (const [c, s] of f.held) if (s !== undefined) lastHeld.set(c, s);
      if (f.cleared !== undefined) lastHeld.delete(f.cleared);
    }
    const skip = new Set(skipped.map(([c]) => c));
    const expected = (final?.held ?? []).filter(([c]) => !skip.has(c)).reduce((a, [c, s]) => a + (s ?? 0) - (lastHeld.get(c) ?? 0), 0);
    expect(final?.reference).toBe(expected);
  });

  it('as text: the frames that matter, the final one, and both totals', () => {
    const x = explainRaw(sigint, 'exits');
    const text = formatExplanation(x);
    expect(text[0]).toContain(`${x.frames.length} frames read`);
    expect(text.some((l) => l.includes('final'))).toBe(true);
    expect(text.at(-1)).toBe(`total exits: reference ${x.total.reference}, fast ${x.total.fast}`);
    expect(formatExplanation(x, true).length).toBe(x.frames.length + 2 + x.notes.length + 1);
  });
});
