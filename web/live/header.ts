/**
 * The header: where the stream comes from (host, kernel, bpftrace, vendor, nested paging), the cgroup
 * it was scoped to, which probes are attached, the collector's own cost, live / paused / ended, and
 * the totals line.
 */
import { safeText } from '../../src/views/safe-text.js';
import type { Report } from '../../src/report/report.js';
import { compact, uptime } from '../../ui/format.js';
import type { DashboardView } from '../../ui/view-model.js';
import { byId, el, num } from './dom.js';
import { type PageUi, windowLabel } from './page-state.js';

function fact(label: string, value: string | HTMLElement, id?: string): HTMLDivElement {
  const d = el('div');
  if (id) d.id = id;
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
  const collector = collectorFact(view, p);
  const covered = h.windowCoveredMs / 1000;
  byId('facts').replaceChildren(
    fact('kernel', h.kernel),
    fact('bpftrace', h.bpftrace),
    fact('vendor', sinceStart.vendor),
    fact('nested paging', paging),
    ...(h.scope !== undefined ? [fact('scoped to', `cgroup ${h.scope}`, 'scope')] : []),
    fact('probes', probes),
    ...(collector ? [collector] : []),
    fact('up', uptime(h.uptimeMs)),
    fact(`exits/s (${windowLabel(p)})`, num('span', 'exits-per-second', h.exitsPerSecond, compact(h.exitsPerSecond), '')),
    fact('window covers', `${covered.toFixed(covered < 10 ? 1 : 0)} s`),
    fact('lost events', num('span', 'lost', h.lost, String(h.lost), '')),
    fact('VM', h.vmLabel),
  );
}

/**
 * The collector's own CPU (% of one core) and memory, from the server's `collector` messages (the
 * view's `self`; data-value: the figures unrounded); a replay collects nothing; a report shows none.
 */
function collectorFact(view: DashboardView, p: PageUi): HTMLDivElement | undefined {
  if (p.embedded) return undefined;
  const self = view.header.self;
  if (!self) return fact('collector', p.server === 'replay' ? 'replay: nothing is collected' : 'not measured yet', 'collector');
  const figures = el('span');
  figures.append(num('span', 'collector-cpu', self.cpuPercent, `${self.cpuPercent.toFixed(1)}% CPU`, ''), el('span', ', '), num('span', 'collector-rss', self.rssMiB, `${self.rssMiB.toFixed(0)} MiB`, ''));
  return fact('collector', figures, 'collector');
}
