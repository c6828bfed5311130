/**
 * Exits per second over time, in total and for the exit reasons that count most: the series the
 * HTML report charts, from the (bounded) snapshots. Each point is one snapshot, which may sum
 * several intervals: its rate is its exits over its own length. Pure.
 */
import { decodeExitReason } from '../model/exit-reasons.js';
import type { Message } from '../protocol/messages.js';

export interface Series {
  name: string;
  /** exits per second, one value per point */
  values: number[];
}

export interface TimeSeries {
  /** seconds since the recording started, at each point's end */
  t: number[];
  total: Series;
  /** the top reasons by count over the whole recording, most first */
  reasons: Series[];
}

/** Reasons charted beside the total. */
export const CHARTED_REASONS = 5;

export function timeSeries(messages: readonly Message[], top = CHARTED_REASONS): TimeSeries {
  const points: { t: number; ms: number; byReason: Map<string, number>; total: number }[] = [];
  const names = new Map<string, string>();
  const overall = new Map<string, number>();
  for (const m of messages) {
    if (m.type !== 'snapshot') continue;
    const byReason = new Map<string, number>();
    let total = 0;
    for (const e of m.exits) {
      const d = decodeExitReason(e.isa, e.reason);
      const key = `${e.isa},${d.reason}`;
      names.set(key, d.name);
      byReason.set(key, (byReason.get(key) ?? 0) + e.n);
      overall.set(key, (overall.get(key) ?? 0) + e.n);
      total += e.n;
    }
    points.push({ t: m.t, ms: m.ms, byReason, total });
  }
  const perSecond = (n: number, ms: number): number => (ms > 0 ? (n * 1000) / ms : 0);
  const chosen = [...overall].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top);
  return {
    t: points.map((p) => p.t / 1000),
    total: { name: 'all exits', values: points.map((p) => perSecond(p.total, p.ms)) },
    reasons: chosen.map(([key]) => ({ name: names.get(key) ?? key, values: points.map((p) => perSecond(p.byReason.get(key) ?? 0, p.ms)) })),
  };
}
