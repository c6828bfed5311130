/** Page faults in the window: count, rate, MMIO, by kind (bars), the top regions (2 MiB guest-physical). */
import { compact } from '../../ui/format.js';
import type { DashboardView } from '../../ui/view-model.js';
import { bar, byId, el, num } from './dom.js';
import { type PageUi, windowLabel } from './page-state.js';

export function renderFaults(view: DashboardView, p: PageUi): void {
  const f = view.faults;
  const w = windowLabel(p);
  const summary = el('div');
  summary.id = 'faults-summary';
  summary.append(el('span', `faults (${w}): `), num('span', 'count', f.count, String(f.count), ''), el('span', ` · per second: `), num('span', 'rate', f.rate, compact(f.rate), ''), el('span', ' · MMIO (reserved bit): '), num('span', 'mmio', f.mmio, String(f.mmio), ''));
  const max = Math.max(1, ...f.byKind.map((k) => k.count));
  const kinds = el('div');
  kinds.id = 'fault-kinds';
  kinds.append(
    ...f.byKind.map((k) => {
      const b = bar(k.kind, k.count, max, 'count');
      b.setAttribute('data-kind', k.kind);
      return b;
    }),
  );
  const regions = el('table');
  regions.id = 'fault-regions';
  const head = el('tr');
  head.append(el('th', 'VM'), el('th', 'region (2 MiB, guest-physical)'), el('th', `faults (${w})`, 'n'));
  regions.append(
    head,
    ...f.topRegions.map((r) => {
      const tr = el('tr');
      tr.setAttribute('data-gpa', r.gpa);
      tr.append(el('td', r.vm), el('td', r.gpa), num('td', 'count', r.count, String(r.count)));
      return tr;
    }),
  );
  byId('faults').replaceChildren(summary, el('div', 'by kind', 'muted'), kinds, el('div', 'top regions', 'muted'), regions);
}
