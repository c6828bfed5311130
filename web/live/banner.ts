/** Lost events and gaps (and collector errors) as one banner: counts are incomplete, said first. */
import type { Aggregate } from '../../src/model/aggregate.js';
import { byId, el } from './dom.js';

export function renderBanner(agg: Aggregate): void {
  const banner = byId('banner');
  const lines: string[] = [];
  if (agg.lost > 0) lines.push(`${agg.lost} events were lost: the counts are incomplete.`);
  if (agg.gaps.length > 0) {
    const last = agg.gaps[agg.gaps.length - 1];
    lines.push(`Counting stopped ${agg.gaps.length} time(s); latest at ${((last?.t ?? 0) / 1000).toFixed(1)} s: ${last?.reason ?? ''}${last?.resumed ? ' (resumed)' : ' (not resumed)'}. Exits in gaps are missing.`);
  }
  for (const e of agg.errors.slice(-3)) lines.push(`error ${e.code}: ${e.message}`);
  banner.hidden = lines.length === 0;
  banner.setAttribute('data-lost', String(agg.lost));
  banner.setAttribute('data-gaps', String(agg.gaps.length));
  banner.replaceChildren(...lines.map((l) => el('div', l)));
}
