/**
 * The interactive flame page: one self-contained HTML file (d3-flame-graph and
 * its CSS inlined from the esbuild bundle in dist/bundles, the snapshot as JSON),
 * so it opens offline and can be mailed or attached to a CI run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import type { FlameProfile } from './profile.js';
import { KIND_COLOURS, escapeXml, frameColour } from './svg.js';
import { buildTree } from './tree.js';

/** The checkout (or installed package) root: the nearest directory up with package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above src/flame');
    dir = up;
  }
  return dir;
}

export function readPageBundle(name: string): { js: string; css: string } {
  const base = join(packageRoot(), 'dist', 'bundles', name);
  if (!existsSync(`${base}.js`)) throw new UserError('BUILD_MISSING', `the web bundle ${base}.js is missing`, 'build exitscope: npm run build');
  return { js: readFileSync(`${base}.js`, 'utf8'), css: existsSync(`${base}.css`) ? readFileSync(`${base}.css`, 'utf8') : '' };
}

/** Text safe inside <script>: no "</script" can end the element early. */
function scriptSafe(s: string): string {
  return s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

export function renderHtml(p: FlameProfile, bundle = readPageBundle('flame-page')): string {
  const title = `exitscope flame: ${p.meta.scope}`;
  const data = {
    title,
    subtitle: `${p.samples} samples at ${p.meta.hz} Hz over ${p.meta.seconds} s on ${p.meta.host} (${p.meta.kernel}), ${p.meta.startedAt}`,
    tree: buildTree(p),
    colours: Object.fromEntries(Object.keys(KIND_COLOURS).map((k) => [k, frameColour('', k as keyof typeof KIND_COLOURS)])),
  };
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:16px;background:#fafafa}h1{font-size:18px;margin:0}#subtitle{color:#555;margin:4px 0 12px}#bar{margin-bottom:8px}#matched{margin-left:12px;color:#a0a}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}</style>
<style>${bundle.css}</style></head>
<body>
<h1 id="title"></h1><div id="subtitle"></div>
<div id="bar"><input id="search" placeholder="search frames (regex)" size="40"> <button id="reset">Reset zoom</button><span id="matched"></span></div>
<div class="legend">${(['context', 'user', 'kernel', 'kvm'] as const).map((k) => `<span><i style="background:${frameColour('', k)}"></i>${escapeXml(KIND_COLOURS[k].label)}</span>`).join('')}</div>
<div id="chart"></div>
<script id="flame-data" type="application/json">${json}</script>
<script>${scriptSafe(bundle.js)}</script>
</body></html>
`;
}
