/**
 * The live web page served by `exitscope serve` at /: the same stream as the
 * terminal, in a browser. One model (src/model/aggregate.ts, as the dashboard
 * uses) fed by the WebSocket; the views (table, chart, histogram, flame) only
 * read it. The token comes from the URL fragment (#token=...) or a prompt.
 */
import flamegraph from 'd3-flame-graph';
import { select } from 'd3-selection';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { Aggregate, totalsOfPid } from '../src/model/aggregate.js';
import { Message } from '../src/protocol/messages.js';
import { buildReport, type ReasonRow } from '../src/report/report.js';
import { bucketHigh, formatNs } from '../src/report/histogram.js';
import { safeText } from '../src/views/safe-text.js';

const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;
/**
 * An element with text. Everything the page shows is built this way (textContent, never
 * innerHTML): VM names, the host and reasons come from the stream and are never parsed as HTML.
 * safeText also spells out bidi overrides, which would make a name read as another one.
 */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = safeText(text);
  if (className) e.className = className;
  return e;
}
const WINDOW_MS = 10_000;

let agg = new Aggregate();
let vm = 0; // 0: all VMs
let selected: string | undefined; // isa,reason of the row whose histogram is shown
let token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
let ws: WebSocket | undefined;
let rights = 'read';
let opened = false;
let dirty = true;
let prompted = false;

const chart = new uPlot(
  { width: Math.min(900, window.innerWidth - 40), height: 180, series: [{}, { label: 'exits/s', stroke: '#c0392b', width: 1.5 }], axes: [{}, { size: 60 }] },
  [[], []],
  $('chart'),
);

function setState(text: string, ok: boolean): void {
  $('conn').textContent = text;
  $('conn').className = ok ? 'ok' : 'bad';
}

function connect(): void {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/stream${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  setState('connecting...', false);
  opened = false;
  const sock = new WebSocket(url);
  ws = sock;
  sock.onopen = () => {
    opened = true;
  };
  sock.onmessage = (ev) => {
    const json = JSON.parse(String(ev.data)) as { type: string; [k: string]: unknown };
    if (json.type === 'welcome') {
      rights = String(json.rights);
      agg = new Aggregate(); // the catch-up follows
      setState(`connected (${rights === 'control' ? 'control' : 'read-only'})`, true);
      ($('flame-button') as HTMLButtonElement).disabled = rights !== 'control';
      return;
    }
    if (json.type === 'flame') return onFlame(json as Parameters<typeof onFlame>[0]);
    if (json.type === 'reject') {
      $('flame-status').textContent = safeText(String(json.message));
      return;
    }
    const m = Message.safeParse(json);
    if (m.success) {
      agg.apply(m.data);
      dirty = true;
    }
  };
  sock.onclose = () => {
    if (!opened && !prompted) {
      // refused before opening: most likely a token is needed (or this one is wrong); ask once
      prompted = true;
      token = window.prompt(token ? 'The server refused this token; the token:' : 'This exitscope server needs a token:') ?? token;
      if (token) return connect();
    }
    setState('disconnected: reconnecting in 2 s', false);
    setTimeout(connect, 2000);
  };
}

function rowsFor(): { rows: ReasonRow[]; total: number } {
  const t = agg.window(WINDOW_MS);
  const report = buildReport(agg, vm ? totalsOfPid(t, vm) : t);
  return { rows: report.exits, total: report.totalExits };
}

function render(): void {
  if (!dirty) return;
  dirty = false;
  const h = agg.hello;
  $('host').textContent = h ? safeText(`${h.host} · kernel ${h.kernel} · bpftrace ${h.bpftrace} · ${h.vendor}${h.tdp === false ? ' · nested paging OFF' : ''}`) : 'waiting for the stream...';
  $('ended').textContent = agg.ended ? `stream ended${agg.ended.complete ? ' (complete)' : ''}` : '';
  // VM selector
  const sel = $('vm') as HTMLSelectElement;
  const options = [['0', 'all VMs'], ...[...agg.vms.values()].map((v) => [String(v.pid), `${v.name} (pid ${v.pid})${v.gone ? ' gone' : ''}`])];
  // rebuilt when a VM comes, goes or is renamed (not every frame: an open list would close)
  const labels = options.map(([v, l]) => `${v}:${l}`).join('\n');
  if (sel.getAttribute('data-labels') !== labels) {
    sel.setAttribute('data-labels', labels);
    sel.replaceChildren(
      ...options.map(([v, l]) => {
        const o = el('option', l ?? '');
        o.value = v ?? '0';
        o.selected = Number(v) === vm;
        return o;
      }),
    );
  }
  // totals since start, and the table over the window
  const all = buildReport(agg, vm ? totalsOfPid(agg.total, vm) : agg.total);
  $('total').textContent = String(all.totalExits);
  const { rows } = rowsFor();
  const totalsByKey = new Map(all.exits.map((r) => [`${r.isa},${r.reason}`, r.count]));
  $('reasons').replaceChildren(
    ...rows.map((r) => {
      const key = `${r.isa},${r.reason}`;
      const tr = el('tr', undefined, key === selected ? 'sel' : '');
      tr.setAttribute('data-key', key);
      tr.append(el('td', r.name), el('td', String(totalsByKey.get(key) ?? 0), 'n'), el('td', r.rate.toFixed(1), 'n'), el('td', `${(r.share * 100).toFixed(1)}%`, 'n'), el('td', r.latency ? formatNs(r.latency.p99Ns) : '-', 'n'));
      return tr;
    }),
  );
  // exits/s per interval
  const hist = agg.history();
  const xs = hist.map((s) => (Date.parse(h?.startedAt ?? '') + s.t) / 1000);
  const ys = hist.map((s) => (s.ms > 0 ? (s.exits.filter((e) => !vm || e.pid === vm).reduce((a, e) => a + e.n, 0) * 1000) / s.ms : 0));
  chart.setData([xs, ys]);
  // latency histogram of the selected reason
  const row = rows.find((r) => `${r.isa},${r.reason}` === selected) ?? rows[0];
  const buckets = row ? [...(agg.window(WINDOW_MS).exitNs.entries())].filter(([k]) => k.endsWith(`,${row.isa},${row.reason}`) && (!vm || k.startsWith(`${vm},`))) : [];
  const merged = new Map<number, number>();
  for (const [, b] of buckets) for (const [low, n] of b) merged.set(low, (merged.get(low) ?? 0) + n);
  const max = Math.max(1, ...merged.values());
  $('hist-title').textContent = row ? safeText(`${row.name}: exit-handling time (last 10 s)`) : 'exit-handling time';
  $('hist').replaceChildren(
    ...[...merged.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([low, n]) => {
        const fill = el('span', undefined, 'fill');
        fill.style.width = `${(100 * n) / max}%`;
        const bar = el('div', undefined, 'bar');
        bar.append(el('span', `<${formatNs(bucketHigh(low))}`, 'lab'), fill, el('span', String(n), 'cnt'));
        return bar;
      }),
  );
}

function onFlame(m: { state?: unknown; seconds?: unknown; tree?: unknown; samples?: unknown; message?: unknown }): void {
  if (m.state === 'sampling') $('flame-status').textContent = `sampling for ${String(m.seconds)} s...`;
  else if (m.state === 'failed') $('flame-status').textContent = safeText(`failed: ${String(m.message)}`);
  else if (m.state === 'done') {
    $('flame-status').textContent = `${String(m.samples)} samples`;
    $('flame').replaceChildren();
    const fg = flamegraph().width(Math.min(1200, window.innerWidth - 40)).cellHeight(18).minFrameSize(2).transitionDuration(0).sort(true).title('');
    select('#flame').datum(m.tree).call(fg);
    document.body.setAttribute('data-flame', 'done');
  }
}

$('vm').addEventListener('change', (e) => {
  vm = Number((e.target as HTMLSelectElement).value);
  dirty = true;
});
$('reasons').addEventListener('click', (e) => {
  const tr = (e.target as HTMLElement).closest('tr');
  if (tr) selected = tr.getAttribute('data-key') ?? undefined;
  dirty = true;
});
$('flame-button').addEventListener('click', () => {
  ws?.send(JSON.stringify({ type: 'flame', seconds: 5 }));
  $('flame-status').textContent = 'asked...';
});
setInterval(render, 250);
connect();
document.body.setAttribute('data-ready', 'true');
