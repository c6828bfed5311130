/**
 * A line chart as inline SVG (no script, no library): the HTML report's charts over time render
 * the same in any browser, printed, or with scripts off. Names are escaped; numbers are ours. Pure.
 */
import { escapeXml } from '../flame/svg.js';
import type { Series } from './time-series.js';

export const SERIES_COLOURS = ['#222222', '#c0392b', '#2e86c1', '#28a745', '#d68910', '#8e44ad'];

/** 1, 2, 5 × 10^k: a round step giving about `count` ticks up to `max`. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

const num = (x: number): string => (x >= 10_000 ? `${(x / 1000).toFixed(0)}k` : x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x >= 10 ? x.toFixed(0) : x.toFixed(1));

export function lineChart(t: readonly number[], series: readonly Series[], o: { width?: number; height?: number; yLabel: string }): string {
  const width = o.width ?? 900;
  const height = o.height ?? 240;
  const left = 56;
  const right = 12;
  const top = 10;
  const bottom = 34;
  const w = width - left - right;
  const h = height - top - bottom;
  // from the first point: tracing starts some seconds into a recording (bpftrace attaching)
  const tMin = t.length ? Math.floor(Math.min(...t)) : 0;
  const tMax = Math.max(tMin + 1, ...t);
  const yMax = Math.max(1, ...series.flatMap((s) => s.values));
  const yStep = niceStep(yMax);
  const yTop = Math.ceil(yMax / yStep) * yStep;
  const tStep = niceStep(tMax - tMin, 8);
  const x = (v: number): number => left + ((v - tMin) / (tMax - tMin)) * w;
  const y = (v: number): number => top + h - (v / yTop) * h;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(o.yLabel)} over time">`];
  for (let v = 0; v <= yTop + yStep / 2; v += yStep) {
    out.push(`<line x1="${left}" x2="${left + w}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11">${num(v)}</text>`);
  }
  for (let v = Math.ceil(tMin / tStep) * tStep; v <= tMax + 1e-9; v += tStep) {
    out.push(`<text x="${x(v).toFixed(1)}" y="${top + h + 16}" text-anchor="middle" font-size="11">${num(v)}</text>`);
  }
  out.push(`<text x="${left + w / 2}" y="${height - 4}" text-anchor="middle" font-size="11" fill="#666">seconds since the recording started</text>`);
  out.push(`<text x="12" y="${top + h / 2}" text-anchor="middle" font-size="11" fill="#666" transform="rotate(-90 12 ${top + h / 2})">${escapeXml(o.yLabel)}</text>`);
  series.forEach((s, i) => {
    const pts = s.values.map((v, j) => `${x(t[j] ?? 0).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length] as string;
    if (s.values.length === 1) out.push(`<circle cx="${x(t[0] ?? 0).toFixed(1)}" cy="${y(s.values[0] ?? 0).toFixed(1)}" r="3" fill="${colour}"><title>${escapeXml(s.name)}</title></circle>`);
    else if (s.values.length > 1) out.push(`<polyline fill="none" stroke="${colour}" stroke-width="${i === 0 ? 2 : 1.5}" points="${pts}"><title>${escapeXml(s.name)}</title></polyline>`);
  });
  out.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`, '</svg>');
  return out.join('\n');
}

/** The legend beside a chart: a colour swatch and the series' name (escaped). */
export function legend(series: readonly Series[]): string {
  return `<div class="legend">${series.map((s, i) => `<span><i style="background:${SERIES_COLOURS[i % SERIES_COLOURS.length]}"></i>${escapeXml(s.name)}</span>`).join('')}</div>`;
}
