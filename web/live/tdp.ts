/**
 * The TDP (two-dimensional paging) fault handler: calls, rate, latency and its log2 histogram; the
 * shadow-paging handlers if they ran; the warning when nested paging is off or unused.
 */
import { bucketHigh, formatNs } from '../../src/report/histogram.js';
import { compact } from '../../ui/format.js';
import type { DashboardView } from '../../ui/view-model.js';
import { bar, byId, el, num } from './dom.js';
import { type PageUi, windowLabel } from './page-state.js';

export function renderTdp(view: DashboardView, p: PageUi): void {
  const t = view.tdp;
  const w = windowLabel(p);
  const parts: HTMLElement[] = [];
  if (t.shadowPaging) {
    const warn = el('div', 'Shadow paging: nested paging (NPT/EPT) is off or unused, so KVM intercepts guest page faults and shadows the page tables. Expect EXCP_PF / EXCEPTION_NMI exits and shadow-handler calls instead of TDP faults.', 'warning-box');
    warn.id = 'shadow-warning';
    warn.setAttribute('role', 'note');
    parts.push(warn);
  }
  const summary = el('div');
  summary.id = 'tdp-summary';
  summary.append(el('span', `${t.handler ?? 'no TDP handler probed'} (${w}): `), num('span', 'count', t.count, String(t.count), ''), el('span', ' calls · per second: '), num('span', 'rate', t.rate, compact(t.rate), ''));
  parts.push(summary);
  if (t.latency) {
    const lat = el('div');
    lat.id = 'tdp-latency';
    lat.append(el('span', 'time in handler: p50 '), num('span', 'p50', t.latency.p50Ns, formatNs(t.latency.p50Ns), ''), el('span', ' · p99 '), num('span', 'p99', t.latency.p99Ns, formatNs(t.latency.p99Ns), ''), el('span', ' · max '), num('span', 'max', t.latency.maxNs, formatNs(t.latency.maxNs), ''));
    parts.push(lat);
  }
  const max = Math.max(1, ...t.buckets.map(([, n]) => n));
  const hist = el('div');
  hist.id = 'tdp-hist';
  hist.append(
    ...t.buckets.map(([low, n]) => {
      const b = bar(`<${formatNs(bucketHigh(low))}`, n, max, 'count');
      b.setAttribute('data-low', String(low));
      return b;
    }),
  );
  parts.push(hist);
  if (t.shadow.length) {
    const shadow = el('div');
    shadow.id = 'shadow-handlers';
    shadow.append(el('div', 'shadow-paging handlers', 'muted'));
    for (const s of t.shadow) {
      const d = el('div');
      d.setAttribute('data-handler', s.handler);
      d.append(el('span', `${s.handler}: `), num('span', 'count', s.count, String(s.count), ''));
      shadow.append(d);
    }
    parts.push(shadow);
  }
  byId('tdp').replaceChildren(...parts);
}
