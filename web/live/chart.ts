/**
 * Exits per second for each reason over the recent intervals (uPlot on a canvas: the CSP allows
 * no more). The series are the view model's per-reason rates (ReasonView.spark, already filtered
 * by VM and reason filter); x is each interval's end. Our own legend (buttons, keyboard usable)
 * toggles series; stacked draws running sums, the top series first so smaller ones paint over it.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { RingSnapshot } from '../../src/model/aggregate.js';
import type { ReasonView } from '../../ui/view-model.js';
import { byId, el } from './dom.js';
import type { PageUi } from './page-state.js';

const PALETTE = ['#c0392b', '#2e86de', '#27ae60', '#e67e22', '#8e44ad', '#16a085', '#d35400', '#2c3e50', '#f1c40f', '#7f8c8d', '#e84393', '#00b894'];

/** A colour per reason that does not change as other reasons come and go. */
function colourOf(key: string): string {
  let h = 0;
  for (const c of key) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length] as string;
}

const byKey = (a: ReasonView, b: ReasonView): number => {
  const [ai = 0, ar = 0] = a.key.split(',').map(Number);
  const [bi = 0, br = 0] = b.key.split(',').map(Number);
  return ai - bi || ar - br;
};

export class ReasonChart {
  private plot: uPlot | undefined;
  private signature = '';

  constructor(private readonly onToggle: (key: string) => void) {}

  update(rows: readonly ReasonView[], history: readonly Pick<RingSnapshot, 't'>[], startedAt: string | undefined, p: PageUi): void {
    const series = [...rows].sort(byKey);
    const start = Date.parse(startedAt ?? '') || 0;
    const xs = history.map((s) => (start + s.t) / 1000);
    const visible = series.filter((r) => !p.hidden.has(r.key));
    const ys = series.map((r) => r.spark.slice(-xs.length));
    if (p.stacked) {
      // series j shows the sum of the visible series from j on (a hidden one adds nothing)
      let sum = xs.map(() => 0);
      for (let j = series.length - 1; j >= 0; j--) {
        const raw = ys[j] as number[];
        if (!p.hidden.has((series[j] as ReasonView).key)) sum = sum.map((v, i) => v + (raw[i] ?? 0));
        ys[j] = sum;
      }
    }
    const signature = `${series.map((r) => r.key).join(' ')}|${p.stacked}|${[...p.hidden].join(' ')}`;
    if (!this.plot || signature !== this.signature) {
      this.signature = signature;
      this.rebuild(series, p);
    }
    this.plot?.setData([xs, ...ys] as uPlot.AlignedData);
    byId('chart').setAttribute('data-series', String(visible.length));
    byId('chart').setAttribute('data-points', String(xs.length));
  }

  private rebuild(series: ReasonView[], p: PageUi): void {
    this.plot?.destroy();
    const css = getComputedStyle(document.body);
    const fg = css.getPropertyValue('--muted').trim() || '#666';
    const grid = css.getPropertyValue('--line').trim() || '#ddd';
    const container = byId('chart');
    const width = Math.max(300, Math.min(1100, (container.parentElement?.clientWidth ?? window.innerWidth) - 24));
    this.plot = new uPlot(
      {
        width,
        height: 200,
        legend: { show: false },
        // one point (a late joiner's catch-up is the totals so far as one interval): a minute around it,
        // not uPlot's default span of years
        scales: { x: { range: (_u, min, max) => (min === max ? [min - 60, max + 1] : [min, max]) } },
        series: [
          {},
          ...series.map((r) => ({
            label: r.name,
            stroke: colourOf(r.key),
            width: 1.5,
            show: !p.hidden.has(r.key),
            ...(p.stacked ? { fill: `${colourOf(r.key)}55` } : {}),
          })),
        ],
        axes: [
          { stroke: fg, grid: { stroke: grid } },
          { size: 60, stroke: fg, grid: { stroke: grid }, label: 'exits/s' },
        ],
      },
      [[], ...series.map(() => [])] as unknown as uPlot.AlignedData,
      container,
    );
    const focused = (document.activeElement as HTMLElement | null)?.closest('#chart-legend') ? document.activeElement?.getAttribute('data-key') : undefined;
    byId('chart-legend').replaceChildren(
      ...series.map((r) => {
        const b = el('button', r.name);
        b.type = 'button';
        b.style.setProperty('--swatch', colourOf(r.key));
        b.setAttribute('data-key', r.key);
        b.setAttribute('aria-pressed', String(!p.hidden.has(r.key)));
        b.addEventListener('click', () => this.onToggle(r.key));
        if (focused === r.key) queueMicrotask(() => b.focus());
        return b;
      }),
    );
  }
}
