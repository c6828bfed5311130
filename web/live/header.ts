/**
 * The header: where the stream comes from (host, kernel, bpftrace, vendor, nested paging), which
 * probes are attached, the collector's own cost, live / paused / ended, and the totals line.
 */
import { safeText } from '../../src/views/safe-text.js';
import type { Report } from '../../src/report/report.js';
import { compact, uptime } from '../../ui/format.js';
import type { DashboardView } from '../../ui/view-model.js';
import { byId, el, num } from './dom.js';
import { type PageUi, windowLabel } from './page-state.js';

function fact(label: string, value: string | HTMLElement): HTMLDivElement {
  const d = el('div');
  const dd = el('dd');
  dd.append(typeof value === 'string' ? el('span', value) : value);
  d.append(el('dt', label), dd);
  return d;
}

export function renderHeader(view: DashboardView, sinceStart: Report, p: PageUi, waiting: boolean): void {
  const h = view.header;
  byId('host').textContent = safeText(waiting ? 'waiting for the stream...' : h.host);
  const state = byId('state');
  const [label, cls] = p.embedded ? ['REPORT', 'report'] : h.paused ? ['PAUSED', 'paused'] : h.ended ? ['STOPPED', 'ended'] : ['LIVE', 'live'];
  state.textContent = label;
  state.className = `badge ${cls}`;
  byId('total').textContent = String(sinceStart.totalExits);
  byId('total').setAttribute('data-value', String(sinceStart.totalExits));
  byId('ended').textContent = h.ended ? `stream ended${sinceStart.complete ? ' (complete)' : ''}` : '';
  const paging = sinceStart.tdp === null ? 'unknown' : sinceStart.tdp ? 'on (NPT/EPT)' : 'OFF: shadow paging';
  const probes = h.notAttached.length ? `${h.attached.length} attached; not attached: ${h.notAttached.map((x) => `${x.probe} (${x.detail})`).join(', ')}` : `${h.attached.length} attached`;
  // the collector's CPU and memory are the local process's (the terminal reads /proc); the stream does not carry them
  const collector = h.self ? `${h.self.cpuPercent.toFixed(1)}% CPU, ${h.self.rssMiB.toFixed(0)} MiB` : 'not in the stream';
  const covered = h.windowCoveredMs / 1000;
  byId('facts').replaceChildren(
    fact('kernel', h.kernel),
    fact('bpftrace', h.bpftrace),
    fact('vendor', sinceStart.vendor),
    fact('nested paging', paging),
    fact('probes', probes),
    fact('collector', collector),
    fact('up', uptime(h.uptimeMs)),
    fact(`exits/s (${windowLabel(p)})`, num('span', 'exits-per-second', h.exitsPerSecond, compact(h.exitsPerSecond), '')),
    fact('window covers', `${covered.toFixed(covered < 10 ? 1 : 0)} s`),
    fact('lost events', num('span', 'lost', h.lost, String(h.lost), '')),
    fact('VM', h.vmLabel),
  );
}
