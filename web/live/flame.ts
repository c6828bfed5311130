/** Flame snapshots asked from the page (control token only): progress, then d3-flame-graph. */
import flamegraph from 'd3-flame-graph';
import { select } from 'd3-selection';
import { safeText } from '../../src/views/safe-text.js';
import { byId } from './dom.js';

export function showFlame(m: { state?: unknown; seconds?: unknown; tree?: unknown; samples?: unknown; message?: unknown }): void {
  const status = byId('flame-status');
  if (m.state === 'sampling') status.textContent = `sampling for ${String(m.seconds)} s...`;
  else if (m.state === 'failed') status.textContent = safeText(`failed: ${String(m.message)}`);
  else if (m.state === 'done') {
    status.textContent = `${String(m.samples)} samples`;
    byId('flame').replaceChildren();
    const fg = flamegraph().width(Math.min(1200, window.innerWidth - 40)).cellHeight(18).minFrameSize(2).transitionDuration(0).sort(true).title('');
    select('#flame').datum(m.tree).call(fg);
    document.body.setAttribute('data-flame', 'done');
  }
}
