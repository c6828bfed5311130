/**
 * The page `exitscope serve` gives at /, and the body of `exitscope report -f html`: its HTML with
 * the bundle (web/live-page.ts and web/live/) inlined; no CDN. Given messages, the page carries
 * them as a recording and shows them without a server (web/live/source.ts: the contract).
 */
import { createHash } from 'node:crypto';
import { readPageBundle } from '../flame/html.js';
import type { Message } from '../protocol/messages.js';

export interface LivePageOptions {
  /** A recording's messages, in order: the page shows them at once (static report), no WebSocket. */
  embeddedMessages?: readonly Message[];
  /** The page title (a report may name its file). */
  title?: string;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Messages as the text of a JSON script element: `<` as \u003c, so nothing in a VM name can end
 * the element (`</script>`) or open a comment; U+2028/9 spelled out too (harmless to JSON.parse,
 * but kept out of the raw HTML like every other line breaker).
 */
export function embeddedRecordingJson(messages: readonly Message[]): string {
  return JSON.stringify(messages).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The page and the hash of its one inline script (the CSP allows only that script; the JSON is data). */
export function livePage(o: LivePageOptions = {}): { html: string; scriptHashes: string[] } {
  const b = readPageBundle('live-page');
  const script = b.js.replace(/<\/(script)/gi, '<\\/$1');
  const recording = o.embeddedMessages ? `<script type="application/json" id="exitscope-recording">${embeddedRecordingJson(o.embeddedMessages)}</script>\n` : '';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(o.title ?? 'exitscope')}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<style>${PAGE_CSS}</style>
<style>${b.css}</style></head>
<body>
<header id="header-panel" class="panel">
<h1>exitscope <span id="host" class="muted"></span> <span id="state" class="badge"></span></h1>
<dl id="facts"></dl>
<div class="controls">
<span id="conn"></span>
<button id="pause" type="button" aria-keyshortcuts="p">Pause</button>
<label>window <select id="window" aria-keyshortcuts="1 2 3"></select></label>
<label>VM <select id="vm" aria-keyshortcuts="v"></select></label>
<label>filter <input id="filter" type="search" size="12" aria-keyshortcuts="/" placeholder="reason or code"></label>
<span>exits since start: <b id="total">0</b></span> <span id="ended" class="muted"></span>
</div>
</header>
<div id="banner" role="alert" hidden></div>
<section id="hints-panel" class="panel" aria-labelledby="hints-title"><h2 id="hints-title">Hints</h2><ul id="hints"></ul></section>
<section id="chart-panel" class="panel" aria-labelledby="chart-title"><h2 id="chart-title">exits/s per reason</h2>
<label><input id="stacked" type="checkbox"> stacked</label> <span class="muted">series (Enter or click toggles):</span> <span id="chart-legend"></span><div id="chart"></div></section>
<section id="reasons-panel" class="panel" aria-labelledby="reasons-title"><h2 id="reasons-title">Exit reasons</h2>
<table><thead><tr id="reasons-head"></tr></thead><tbody id="reasons"></tbody></table><div id="reasons-note" class="muted"></div></section>
<div class="grid">
<section id="faults-panel" class="panel" aria-labelledby="faults-title"><h2 id="faults-title">Page faults</h2><div id="faults"></div></section>
<section id="tdp-panel" class="panel" aria-labelledby="tdp-title"><h2 id="tdp-title">TDP fault handler</h2><div id="tdp"></div></section>
<section id="vms-panel" class="panel" aria-labelledby="vms-title"><h2 id="vms-title">VMs and vCPUs</h2><div id="vms"></div></section>
</div>
<section id="flame-panel" class="panel"><button id="flame-button" type="button" disabled>Take a flame snapshot (5 s)</button> <span id="flame-status" class="muted"></span><div id="flame"></div></section>
<footer class="muted"><span id="update-time"></span> · keys: p pause, 1/2/3 window, v next VM, / filter, Esc leaves the filter</footer>
${recording}<script>${script}</script>
</body></html>
`;
  return { html, scriptHashes: [createHash('sha256').update(script).digest('base64')] };
}

/** Colours as variables, a light and a dark set (prefers-color-scheme); severity has its own colours. */
const PAGE_CSS = `:root{--bg:#fafafa;--fg:#1f2328;--muted:#59636e;--panel:#fff;--line:#d0d7de;--accent:#0969da;--sel:#ddf4ff;--good:#1a7f37;--warn:#9a6700;--warn-bg:#fff8c5;--bad:#b42318;--bad-bg:#ffebe9;--info-bg:#ddf4ff;--bar:#4a78c2}
@media (prefers-color-scheme: dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--panel:#161b22;--line:#30363d;--accent:#4493f8;--sel:#1f2d3d;--good:#3fb950;--warn:#d29922;--warn-bg:#2e2410;--bad:#f85149;--bad-bg:#3d1418;--info-bg:#102036;--bar:#5a8fd8}}
body{font-family:system-ui,sans-serif;margin:12px;background:var(--bg);color:var(--fg)}h1{font-size:18px;margin:0 0 4px}h2{font-size:14px;margin:0 0 6px}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 10px;margin:8px 0}
.muted{color:var(--muted)}#conn.ok{color:var(--good)}#conn.bad{color:var(--bad)}
.badge{font-size:12px;padding:1px 6px;border-radius:4px;border:1px solid currentColor}.badge.live{color:var(--good)}.badge.paused{color:var(--warn)}.badge.ended{color:var(--bad)}.badge.report{color:var(--accent)}
#facts{display:flex;flex-wrap:wrap;gap:4px 16px;margin:4px 0;font-size:13px}#facts div{display:flex;gap:4px}#facts dt{color:var(--muted)}#facts dd{margin:0}#scope dd{color:var(--accent);font-weight:600}
.controls{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center}
button,select,input{font:inherit;color:inherit;background:var(--panel);border:1px solid var(--line);border-radius:4px}
:focus-visible{outline:2px solid var(--accent);outline-offset:1px}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th button{border:none;background:none;font-weight:600;padding:0;cursor:pointer}th[aria-sort] button{color:var(--accent)}
tbody tr:hover,tr.sel{background:var(--sel)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:0 8px}
.bar{display:flex;align-items:center;font-size:12px;height:16px}.bar .lab{width:90px;text-align:right;padding-right:6px}.bar .fill{background:var(--bar);height:10px}.bar .cnt{padding-left:6px}
#banner{border:1px solid var(--bad);background:var(--bad-bg);color:var(--fg);border-radius:6px;padding:6px 10px;margin:8px 0}
#hints{list-style:none;margin:0;padding:0}#hints li{border-left:4px solid;padding:4px 8px;margin:4px 0}
#hints li.warning{border-color:var(--warn);background:var(--warn-bg)}#hints li.info{border-color:var(--accent);background:var(--info-bg)}
.warning-box{border-left:4px solid var(--warn);background:var(--warn-bg);padding:4px 8px;margin:4px 0}
#chart-legend button{margin:2px;padding:0 6px;border-left:10px solid var(--swatch,#888)}#chart-legend button[aria-pressed=false]{opacity:.45;text-decoration:line-through}
.vm-list button{display:block;width:100%;text-align:left;margin:2px 0;padding:2px 6px}.vm-list button[aria-pressed=true]{background:var(--sel);border-color:var(--accent)}
.u-legend{display:none}`;
