/** The page `exitscope serve` gives at /: its HTML with the bundle (web/live-page.ts) inlined; no CDN. */
import { createHash } from 'node:crypto';
import { readPageBundle } from '../flame/html.js';

/** The page and the hash of its one inline script (the server's CSP allows only that script). */
export function livePage(): { html: string; scriptHashes: string[] } {
  const b = readPageBundle('live-page');
  const script = b.js.replace(/<\/(script)/gi, '<\\/$1');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>exitscope</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:16px;background:#fafafa;color:#222}h1{font-size:18px;margin:0 0 4px}
#conn.ok{color:#1a7f37}#conn.bad{color:#b42318}.muted{color:#666}table{border-collapse:collapse;margin:8px 0}td,th{padding:2px 10px;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}tbody tr{cursor:pointer}tbody tr:hover,tr.sel{background:#eef}
.bar{display:flex;align-items:center;font-size:12px;height:16px}.bar .lab{width:80px;text-align:right;padding-right:6px}.bar .fill{background:#4a78c2;height:10px}.bar .cnt{padding-left:6px}
section{margin-top:14px}</style>
<style>${b.css}</style></head>
<body>
<h1>exitscope <span id="host" class="muted"></span></h1>
<div><span id="conn"></span> · exits since start: <b id="total">0</b> <span id="ended" class="muted"></span> · VM <select id="vm"></select></div>
<section><table><thead><tr><th>exit reason</th><th class="n">count</th><th class="n">rate/s (10 s)</th><th class="n">share</th><th class="n">p99 &lt;=</th></tr></thead><tbody id="reasons"></tbody></table></section>
<section><div class="muted">exits per second</div><div id="chart"></div></section>
<section><div id="hist-title" class="muted"></div><div id="hist"></div></section>
<section><button id="flame-button" disabled>Take a flame snapshot (5 s)</button> <span id="flame-status" class="muted"></span><div id="flame"></div></section>
<script>${script}</script>
</body></html>
`;
  return { html, scriptHashes: [createHash('sha256').update(script).digest('base64')] };
}
