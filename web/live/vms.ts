/**
 * VMs and vCPUs. Choosing a VM (a button here, the select in the header, or the v key) sets the
 * view model's VM, which filters every panel. Rates are over the window; "since start" counts
 * come from the since-start report (the same numbers as `exitscope report`).
 */
import type { Report } from '../../src/report/report.js';
import { compact } from '../../ui/format.js';
import type { DashboardView } from '../../ui/view-model.js';
import { byId, el, num } from './dom.js';
import { type PageUi, windowLabel } from './page-state.js';

export function renderVmSelect(view: DashboardView, p: PageUi): void {
  const sel = byId<HTMLSelectElement>('vm');
  const options: [string, string][] = [['0', 'all VMs'], ...view.vms.map((v): [string, string] => [String(v.pid), `${v.name} (pid ${v.pid})${v.gone ? ' gone' : ''}`])];
  // rebuilt when a VM comes, goes or is renamed (not every frame: an open list would close)
  const labels = options.map(([v, l]) => `${v}:${l}`).join('\n');
  if (sel.getAttribute('data-labels') !== labels) {
    sel.setAttribute('data-labels', labels);
    sel.replaceChildren(
      ...options.map(([v, l]) => {
        const o = el('option', l);
        o.value = v;
        return o;
      }),
    );
  }
  sel.value = String(p.ui.vm ?? 0);
}

export function renderVms(view: DashboardView, sinceStart: Report, p: PageUi, choose: (pid: number | undefined) => void): void {
  const w = windowLabel(p);
  const totals = new Map(sinceStart.vms.map((v) => [v.pid, v]));
  const focusedPid = (document.activeElement as HTMLElement | null)?.getAttribute('data-pid');
  const button = (pid: number | undefined, label: string, rate: number, total: number, gone: boolean): HTMLButtonElement => {
    const b = el('button');
    b.type = 'button';
    b.setAttribute('data-pid', String(pid ?? 0));
    b.setAttribute('aria-pressed', String(p.ui.vm === pid));
    b.append(el('span', `${label}${gone ? ' (gone)' : ''} · `), num('span', 'rate', rate, `${compact(rate)}/s`, ''), el('span', ' · since start '), num('span', 'total', total, String(total), ''));
    b.addEventListener('click', () => choose(pid));
    if (focusedPid === String(pid ?? 0)) queueMicrotask(() => b.focus());
    return b;
  };
  const list = el('div', undefined, 'vm-list');
  list.id = 'vm-list';
  const allRate = view.vms.reduce((a, v) => a + v.rate, 0);
  list.append(button(undefined, 'all VMs', allRate, sinceStart.vms.reduce((a, v) => a + v.totalExits, 0), false));
  for (const v of view.vms) list.append(button(v.pid, `${v.name} (pid ${v.pid})`, v.rate, totals.get(v.pid)?.totalExits ?? 0, v.gone));
  // vCPUs of the selection: the view's busiest (rates in the window), with their since-start counts
  const vcpuTotals = new Map<string, number>(sinceStart.vms.flatMap((v) => v.vcpus.map((c) => [`${v.pid},${c.tid}`, c.count] as const)));
  const vcpus = el('table');
  vcpus.id = 'vcpu-list';
  const head = el('tr');
  head.append(el('th', 'vCPU'), el('th', `exits/s (${w})`, 'n'), el('th', 'exits since start', 'n'));
  vcpus.append(
    head,
    ...view.vcpus.map((c) => {
      const tr = el('tr');
      tr.setAttribute('data-key', c.key);
      const total = vcpuTotals.get(c.key) ?? 0;
      tr.append(el('td', c.label), num('td', 'rate', c.rate, compact(c.rate)), num('td', 'total', total, String(total)));
      return tr;
    }),
  );
  byId('vms').replaceChildren(el('div', `VMs (exits/s over ${w}; choose one to filter every panel)`, 'muted'), list, el('div', 'busiest vCPUs', 'muted'), vcpus);
}
