/**
 * The exit-reason table: the view model's rows (the window, the selected VM), every column
 * labelled with the span it covers, plus exits since start from the since-start report. Column
 * headers are buttons (keyboard: Tab, Enter) that sort; aria-sort says which.
 */
import { formatNs } from '../../src/report/histogram.js';
import type { Report } from '../../src/report/report.js';
import { compact, percent } from '../../ui/format.js';
import type { DashboardView, ReasonView } from '../../ui/view-model.js';
import { byId, el, num } from './dom.js';
import { type PageUi, type TableSort, windowLabel } from './page-state.js';

interface Column {
  col: string;
  title: (w: string) => string;
  sort: TableSort;
  numeric: boolean;
}

const COLUMNS: Column[] = [
  { col: 'name', title: () => 'exit reason', sort: 'name', numeric: false },
  { col: 'count', title: (w) => `exits (${w})`, sort: 'count', numeric: true },
  { col: 'rate', title: (w) => `exits/s (${w})`, sort: 'count', numeric: true },
  { col: 'share', title: (w) => `share (${w})`, sort: 'count', numeric: true },
  { col: 'p50', title: (w) => `p50 (${w})`, sort: 'p50', numeric: true },
  { col: 'p99', title: (w) => `p99 (${w})`, sort: 'p99', numeric: true },
  { col: 'max', title: (w) => `max (${w})`, sort: 'max', numeric: true },
  { col: 'total', title: () => 'exits since start', sort: 'total', numeric: true },
];

/** Clicking the sorted column flips the order; another column sorts by it, largest (or A..Z) first. */
export function nextSort(p: PageUi, sort: TableSort): void {
  if (p.tableSort === sort) p.ui = { ...p.ui, sortDesc: !p.ui.sortDesc };
  else p.ui = { ...p.ui, sortDesc: sort !== 'name' };
  p.tableSort = sort;
  if (sort !== 'total') p.ui = { ...p.ui, sort };
}

export function renderReasonsHead(p: PageUi, onSort: (s: TableSort) => void): void {
  const w = windowLabel(p);
  const head = byId('reasons-head');
  // rebuilt only when a label or the sort changes: a focused header button keeps its focus
  const signature = `${w}|${p.tableSort}|${p.ui.sortDesc}`;
  if (head.getAttribute('data-signature') === signature) return;
  head.setAttribute('data-signature', signature);
  const focused = (document.activeElement as HTMLElement | null)?.getAttribute('data-sort-col');
  head.replaceChildren(
    ...COLUMNS.map((c) => {
      const th = el('th', undefined, c.numeric ? 'n' : '');
      th.setAttribute('data-col', c.col);
      const b = el('button', c.title(w));
      b.type = 'button';
      b.setAttribute('data-sort-col', c.col);
      b.addEventListener('click', () => onSort(c.sort));
      // rate and share sort as count does (same order); only the column clicked shows it
      if (c.sort === p.tableSort && (c.sort !== 'count' || c.col === 'count')) th.setAttribute('aria-sort', p.ui.sortDesc ? 'descending' : 'ascending');
      th.append(b);
      if (focused === c.col) queueMicrotask(() => b.focus());
      return th;
    }),
  );
}

const latency = (r: ReasonView, col: 'p50' | 'p99' | 'max'): number => (r.latency ? r.latency[col === 'p50' ? 'p50Ns' : col === 'p99' ? 'p99Ns' : 'maxNs'] : -1);

export function renderReasons(view: DashboardView, sinceStart: Report, p: PageUi, selected: string | undefined): void {
  const totals = new Map(sinceStart.exits.map((r) => [`${r.isa},${r.reason}`, r.count]));
  let rows = view.reasons.rows;
  if (p.tableSort === 'total') {
    const dir = p.ui.sortDesc ? -1 : 1;
    rows = [...rows].sort((a, b) => dir * ((totals.get(a.key) ?? 0) - (totals.get(b.key) ?? 0)) || b.count - a.count || a.reason - b.reason);
  }
  byId('reasons').replaceChildren(
    ...rows.map((r) => {
      const tr = el('tr', undefined, r.key === selected ? 'sel' : '');
      tr.setAttribute('data-key', r.key);
      const name = el('td', r.name);
      name.setAttribute('data-col', 'name');
      name.title = `${r.isaName} 0x${r.reason.toString(16)}`;
      const lat = (col: 'p50' | 'p99' | 'max'): HTMLTableCellElement => {
        const v = latency(r, col);
        return num('td', col, v, v < 0 ? '-' : formatNs(v));
      };
      const total = totals.get(r.key) ?? 0;
      tr.append(name, num('td', 'count', r.count, String(r.count)), num('td', 'rate', r.rate, compact(r.rate)), num('td', 'share', r.share, percent(r.share)), lat('p50'), lat('p99'), lat('max'), num('td', 'total', total, String(total)));
      return tr;
    }),
  );
  byId('reasons-note').textContent = view.reasons.hidden > 0 ? `${view.reasons.hidden} reason(s) hidden by the filter "${view.reasons.filter}"` : '';
}
