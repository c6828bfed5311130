/**
 * The web page (`exitscope serve` at /, and `exitscope report -f html`): the terminal dashboard's
 * model and view model in a browser. One model: ui/store.ts DashboardStore (Aggregate, pause)
 * fed by the stream or an embedded recording (web/live/source.ts); one view model: ui/view-model.ts
 * buildView, plus src/report buildReport for the since-start counts. The panels (web/live/*) only
 * turn a view into elements; this file wires input (messages, controls, keys) to them.
 */
import { Aggregate, totalsOfPid } from '../src/model/aggregate.js';
import { buildReport } from '../src/report/report.js';
import { DashboardStore } from '../ui/store.js';
import { buildView, nextVm, selfStatsOf, WINDOWS, type WindowSeconds } from '../ui/view-model.js';
import { renderBanner } from './live/banner.js';
import { ReasonChart } from './live/chart.js';
import { connectStream, type StreamConnection } from './live/connection.js';
import { byId, el } from './live/dom.js';
import { renderFaults } from './live/faults.js';
import { showFlame } from './live/flame.js';
import { renderHeader } from './live/header.js';
import { renderHints } from './live/hints.js';
import { initialPageUi, type TableSort } from './live/page-state.js';
import { nextSort, renderReasons, renderReasonsHead } from './live/reasons.js';
import { pageSource, wholeRecording } from './live/source.js';
import { renderTdp } from './live/tdp.js';
import { renderVmSelect, renderVms } from './live/vms.js';
import { recordUpdateTime } from './live/update-time.js';

const source = pageSource(document);
const embedded = source.kind === 'embedded';
const store = new DashboardStore(embedded ? 'replay' : 'live', 4);
const page = initialPageUi(embedded);
/** A report's chart needs every interval (the model holds their sum): a second model keeping them all. */
let chartModel: Aggregate | undefined;
let selectedReason: string | undefined;
let dirty = true;
let connection: StreamConnection | undefined;
store.subscribe(() => {
  dirty = true;
});

const chart = new ReasonChart((key) => {
  if (page.hidden.has(key)) page.hidden.delete(key);
  else page.hidden.add(key);
  dirty = true;
});

function render(): void {
  if (!dirty) return;
  dirty = false;
  const started = performance.now();
  const snap = store.getSnapshot();
  const agg = snap.agg;
  const view = buildView(agg, page.ui, { paused: snap.paused, self: snap.self, source: snap.source });
  // since start: for all VMs (the VMs panel) and for the selected one (the table's last column, the total)
  const everyVm = buildReport(agg);
  const vm = page.ui.vm;
  const sinceStart = vm === undefined ? everyVm : buildReport(agg, totalsOfPid(agg.total, vm));
  renderHeader(view, sinceStart, page, agg.hello === undefined);
  renderBanner(agg);
  renderHints(view.hints);
  renderReasonsHead(page, (s: TableSort) => {
    nextSort(page, s);
    dirty = true;
  });
  renderReasons(view, sinceStart, page, selectedReason);
  renderFaults(view, page);
  renderTdp(view, page);
  renderVmSelect(view, page);
  renderVms(view, everyVm, page, chooseVm);
  const chartView = chartModel ? buildView(chartModel, page.ui, { paused: false, self: undefined, source: 'replay' }) : view;
  chart.update(chartView.reasons.rows, (chartModel ?? agg).history(), agg.hello?.startedAt, page);
  document.body.setAttribute('data-snapshots', String(agg.snapshots));
  document.body.setAttribute('data-paused', String(snap.paused));
  document.body.setAttribute('data-vm', String(vm ?? 0));
  recordUpdateTime(performance.now() - started);
}

function chooseVm(pid: number | undefined): void {
  page.ui = { ...page.ui, vm: pid };
  dirty = true;
}

function setWindow(seconds: WindowSeconds): void {
  page.ui = { ...page.ui, windowSeconds: seconds };
  dirty = true;
}

// controls
const windowSelect = byId<HTMLSelectElement>('window');
windowSelect.replaceChildren(
  ...(embedded
    ? [el('option', 'whole recording')]
    : WINDOWS.map((w) => {
        const o = el('option', `${w} s`);
        o.value = String(w);
        return o;
      })),
);
windowSelect.disabled = embedded;
windowSelect.value = String(page.ui.windowSeconds);
windowSelect.addEventListener('change', () => setWindow(Number(windowSelect.value) as WindowSeconds));
byId<HTMLSelectElement>('vm').addEventListener('change', (e) => {
  const pid = Number((e.target as HTMLSelectElement).value);
  chooseVm(pid === 0 ? undefined : pid);
});
const filter = byId<HTMLInputElement>('filter');
filter.addEventListener('input', () => {
  page.ui = { ...page.ui, filter: filter.value };
  dirty = true;
});
byId<HTMLInputElement>('stacked').addEventListener('change', (e) => {
  page.stacked = (e.target as HTMLInputElement).checked;
  dirty = true;
});
const pause = byId<HTMLButtonElement>('pause');
const togglePause = (): void => {
  if (embedded) return;
  store.togglePause();
  pause.textContent = store.paused ? 'Resume' : 'Pause';
  pause.setAttribute('aria-pressed', String(store.paused));
};
pause.addEventListener('click', togglePause);
byId('reasons').addEventListener('click', (e) => {
  const tr = (e.target as HTMLElement).closest('tr');
  if (tr) selectedReason = tr.getAttribute('data-key') ?? undefined;
  dirty = true;
});
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const target = e.target as HTMLElement;
  if (target === filter) {
    if (e.key === 'Escape') filter.blur();
    return;
  }
  if (target.closest('input, select, textarea')) return;
  if (e.key === 'p') togglePause();
  else if (e.key === '1' || e.key === '2' || e.key === '3') {
    if (embedded) return;
    setWindow(WINDOWS[Number(e.key) - 1] as WindowSeconds);
    windowSelect.value = String(page.ui.windowSeconds);
  } else if (e.key === 'v') {
    const snap = store.getSnapshot();
    chooseVm(nextVm(buildView(snap.agg, page.ui, { paused: snap.paused, self: snap.self, source: snap.source }), page.ui.vm));
  } else if (e.key === '/') {
    e.preventDefault();
    filter.focus();
  } else return;
  e.preventDefault();
});

// input: a recording in the page, or the stream
if (source.kind === 'embedded') {
  for (const m of wholeRecording(source.messages)) store.apply(m);
  chartModel = new Aggregate(Number.POSITIVE_INFINITY);
  for (const m of source.messages) chartModel.apply(m);
  for (const id of ['conn', 'pause', 'flame-panel']) byId(id).hidden = true;
  document.body.setAttribute('data-rejected', String(source.rejected));
} else {
  const flameButton = byId<HTMLButtonElement>('flame-button');
  connection = connectStream({
    welcome: (rights, server) => {
      store.restart(); // the catch-up follows
      page.server = server;
      flameButton.disabled = rights !== 'control';
    },
    message: (m) => store.apply(m),
    collector: (m) => {
      store.setSelf(selfStatsOf(m), true); // now: a finished stream has no next change to show it with
    },
    flame: showFlame,
    reject: (message) => {
      byId('flame-status').textContent = message;
    },
    state: (text, ok) => {
      byId('conn').textContent = text;
      byId('conn').className = ok ? 'ok' : 'bad';
    },
  });
  flameButton.addEventListener('click', () => {
    connection?.send({ type: 'flame', seconds: 5 });
    byId('flame-status').textContent = 'asked...';
  });
}
document.body.setAttribute('data-source', source.kind);
render();
setInterval(render, 100);
document.body.setAttribute('data-ready', 'true');
