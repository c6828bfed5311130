/**
 * The interactive flame page: d3-flame-graph over the snapshot embedded in the
 * page (script#flame-data), bundled by esbuild into one file with its CSS so the
 * page works offline. Colours match the SVG renderer's (kind of frame).
 */
import flamegraph from 'd3-flame-graph';
import { select } from 'd3-selection';

interface PageData {
  title: string;
  subtitle: string;
  tree: unknown;
  colours: Record<string, string>;
}

const data = JSON.parse(document.getElementById('flame-data')?.textContent ?? '{}') as PageData;
document.getElementById('title')!.textContent = data.title;
document.getElementById('subtitle')!.textContent = data.subtitle;

const chartEl = document.getElementById('chart')!;
const chart = flamegraph()
  .width(Math.max(600, chartEl.clientWidth || window.innerWidth - 32))
  .cellHeight(18)
  .minFrameSize(2)
  .transitionDuration(250)
  .sort(true)
  .title('')
  // d3-flame-graph's own colour for a search match (original) wins over the kind's
  .setColorMapper((d, original) => (d.highlight ? original : (data.colours[d.data.kind ?? ''] ?? original)))
  .setSearchHandler((_results, sum, total) => {
    document.getElementById('matched')!.textContent = total ? `Matched: ${((100 * sum) / total).toFixed(1)}%` : '';
  });
select('#chart').datum(data.tree).call(chart);

const box = document.getElementById('search') as HTMLInputElement;
box.addEventListener('input', () => (box.value ? chart.search(box.value) : chart.clear()));
document.getElementById('reset')!.addEventListener('click', () => {
  box.value = '';
  chart.clear();
  chart.resetZoom();
  document.getElementById('matched')!.textContent = '';
});
document.body.setAttribute('data-ready', 'true');
