/**
 * Our own flame graph renderer (no maintained npm package renders folded stacks
 * to SVG server-side): a self-contained SVG in the layout of FlameGraph's
 * flamegraph.pl, root at the bottom, width proportional to samples. Each frame is
 * a <g> with a <title> ("name (N samples, P%)") so that viewers and tests find
 * frames by title; colours say whose code it is (user, kernel, KVM, context);
 * a small inline script searches by regular expression (click Search or Ctrl-F).
 */
import type { FlameProfile, FrameKind } from './profile.js';
import { type FlameNode, buildTree, treeDepth } from './tree.js';

export interface SvgOptions {
  width?: number;
  frameHeight?: number;
  /** Frames narrower than this many pixels are left out (with their children). */
  minWidth?: number;
  title?: string;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** Hue and saturation by kind; the name varies the lightness so neighbours differ. */
export const KIND_COLOURS: Record<FrameKind | 'root', { hue: number; sat: number; label: string }> = {
  root: { hue: 0, sat: 0, label: 'all samples' },
  context: { hue: 210, sat: 25, label: 'context (exit state, VM, thread)' },
  user: { hue: 48, sat: 85, label: 'user space (the VMM)' },
  kernel: { hue: 25, sat: 85, label: 'kernel' },
  kvm: { hue: 350, sat: 70, label: 'KVM (kvm, kvm_amd, kvm_intel)' },
};

function nameHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length && i < 24; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h / 0xffffffff;
}

export function frameColour(name: string, kind: FrameKind | 'root'): string {
  const c = KIND_COLOURS[kind];
  const light = kind === 'root' ? 80 : 55 + Math.round(nameHash(name) * 20);
  return `hsl(${c.hue},${c.sat}%,${light}%)`;
}

function fitText(name: string, widthPx: number, charPx: number): string {
  const chars = Math.floor((widthPx - 6) / charPx);
  if (chars < 3) return '';
  return name.length <= chars ? name : `${name.slice(0, chars - 2)}..`;
}

const SEARCH_SCRIPT = `
var matchedColour = 'rgb(230,0,230)';
function frames() { return Array.prototype.slice.call(document.querySelectorAll('g.f')); }
function reset() {
  frames().forEach(function (g) { var r = g.querySelector('rect'); r.setAttribute('fill', r.getAttribute('data-fill')); });
  document.getElementById('matched').textContent = '';
}
function search(re) {
  reset();
  if (!re) return;
  var rx; try { rx = new RegExp(re); } catch (e) { document.getElementById('matched').textContent = 'bad expression'; return; }
  var spans = [], total = Number(document.documentElement.getAttribute('data-samples'));
  frames().forEach(function (g) {
    if (!rx.test(g.getAttribute('data-name'))) return;
    g.querySelector('rect').setAttribute('fill', matchedColour);
    spans.push([Number(g.getAttribute('data-x')), Number(g.getAttribute('data-x')) + Number(g.getAttribute('data-samples'))]);
  });
  spans.sort(function (a, b) { return a[0] - b[0]; });
  var covered = 0, end = -1;
  spans.forEach(function (s) { if (s[1] <= end) return; covered += s[1] - Math.max(s[0], end); end = s[1]; });
  document.getElementById('matched').textContent = 'Matched: ' + (100 * covered / total).toFixed(1) + '%';
}
document.getElementById('search').addEventListener('click', function () { search(prompt('Search frames (regular expression):', '')); });
document.getElementById('reset').addEventListener('click', reset);
window.addEventListener('keydown', function (e) { if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); search(prompt('Search frames (regular expression):', '')); } });
`;

export function renderSvg(p: FlameProfile, o: SvgOptions = {}): string {
  const width = o.width ?? 1200;
  const fh = o.frameHeight ?? 16;
  const minWidth = o.minWidth ?? 0.1;
  const pad = 10;
  const top = 56;
  const bottom = 24;
  const root = buildTree(p);
  const depth = treeDepth(root);
  const height = top + depth * fh + bottom;
  const perSample = root.value > 0 ? (width - 2 * pad) / root.value : 0;
  const title = o.title ?? `exitscope flame: ${p.meta.scope}`;
  const out: string[] = [];
  out.push('<?xml version="1.0" standalone="no"?>');
  out.push(`<svg version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg" data-samples="${root.value}">`);
  out.push('<style>text{font-family:Verdana,sans-serif;font-size:12px;fill:#000}.f:hover rect{stroke:#000;stroke-width:.5}#search,#reset{cursor:pointer}.h{font-size:17px}.s{fill:#555}</style>');
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#f8f8f8"/>`);
  out.push(`<text class="h" x="${width / 2}" y="24" text-anchor="middle">${escapeXml(title)}</text>`);
  out.push(`<text class="s" x="${width / 2}" y="42" text-anchor="middle">${escapeXml(`${p.samples} samples at ${p.meta.hz} Hz over ${p.meta.seconds} s on ${p.meta.host} (${p.meta.kernel}), ${p.meta.startedAt}`)}</text>`);
  out.push(`<text id="reset" x="${pad}" y="24">Reset</text>`);
  out.push(`<text id="search" x="${width - pad}" y="24" text-anchor="end">Search</text>`);
  out.push(`<text id="matched" x="${width - pad}" y="${height - 8}" text-anchor="end"></text>`);
  let lx = pad;
  for (const kind of ['context', 'user', 'kernel', 'kvm'] as const) {
    out.push(`<rect x="${lx}" y="${height - 19}" width="10" height="10" fill="${frameColour('', kind)}"/><text x="${lx + 14}" y="${height - 10}">${escapeXml(KIND_COLOURS[kind].label)}</text>`);
    lx += 14 + KIND_COLOURS[kind].label.length * 7 + 16;
  }
  const draw = (n: FlameNode, level: number, start: number): void => {
    const w = n.value * perSample;
    if (w < minWidth) return;
    const x = pad + start * perSample;
    const y = top + (depth - 1 - level) * fh;
    const share = root.value ? ((100 * n.value) / root.value).toFixed(2) : '0';
    const fill = frameColour(n.name, n.kind);
    const label = `${n.name} (${n.value} samples, ${share}%)`;
    out.push(
      `<g class="f" data-name="${escapeXml(n.name)}" data-kind="${n.kind}" data-x="${start}" data-samples="${n.value}"><title>${escapeXml(label)}</title>` +
        `<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${fh - 1}" rx="2" fill="${fill}" data-fill="${fill}"/>` +
        `<text x="${(x + 3).toFixed(2)}" y="${y + fh - 4}">${escapeXml(fitText(n.name, w, 7))}</text></g>`,
    );
    let at = start;
    for (const c of n.children) {
      draw(c, level + 1, at);
      at += c.value;
    }
  };
  draw(root, 0, 0);
  out.push(`<script type="text/ecmascript"><![CDATA[${SEARCH_SCRIPT}]]></script>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
