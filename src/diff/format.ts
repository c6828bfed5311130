/**
 * Formats of a ReportDiff: text (terminals), json (scripts), markdown (CI summaries, PR comments).
 * Pure; outside strings (hosts, kernels, VM and handler names, file names) are neutralised for
 * the text forms (src/views/safe-text.ts) and kept exact, escaped, in JSON.
 */
import { mdText, table } from '../report/format.js';
import { formatNs } from '../report/histogram.js';
import { safeJson, safeStrings } from '../views/safe-text.js';
import type { BoundChange, Change, ReportDiff, SideSummary } from './compare.js';

export const DIFF_FORMATS = ['text', 'json', 'markdown'] as const;
export type DiffFormat = (typeof DIFF_FORMATS)[number];

const num = (x: number): string => (Number.isInteger(x) ? String(x) : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** "+1031 (new)", "-1031 (gone)", "+12 (+1.2%)", "0". */
export function formatChange(c: Change, unit: (x: number) => string = num): string {
  if (c.delta === 0) return '0';
  const sign = c.delta > 0 ? '+' : '-';
  const abs = `${sign}${unit(Math.abs(c.delta))}`;
  if (c.base === 0) return `${abs} (new)`;
  if (c.next === 0) return `${abs} (gone)`;
  return `${abs} (${c.relative !== null && c.relative > 0 ? '+' : ''}${((c.relative ?? 0) * 100).toFixed(1)}%)`;
}

const bound = (b: BoundChange, which: 'base' | 'next'): string => (b[which] === null ? '-' : formatNs(b[which] as number));
const paging = (s: SideSummary): string => (s.tdp === null ? 'nested paging unknown' : s.tdp ? 'nested paging on' : 'nested paging OFF');
const sideLine = (s: SideSummary): string => `${s.label}: ${s.host}, kernel ${s.kernel}, ${s.vendor}, ${paging(s)}, ${s.durationSeconds.toFixed(1)} s${s.complete ? '' : ' (incomplete)'}`;

function text(d: ReportDiff): string {
  const out: string[] = [];
  out.push(`exitscope diff`, `  BASE ${sideLine(d.base)}`, `  NEW  ${sideLine(d.next)}`);
  out.push(`total exits ${d.total.count.base} -> ${d.total.count.next} (${formatChange(d.total.count)}), ${num(d.total.rate.base)}/s -> ${num(d.total.rate.next)}/s; lost events ${d.lostEvents.base} -> ${d.lostEvents.next}; gaps ${d.gaps.base} -> ${d.gaps.next}`);
  out.push('');
  out.push(
    d.exits.length
      ? table(
          ['EXIT REASON', 'ISA', 'BASE', 'NEW', 'CHANGE', 'RATE/s BASE', 'NEW', 'SHARE BASE', 'NEW', 'P50<= BASE', 'NEW', 'P99<= BASE', 'NEW'],
          d.exits.map((e) => [e.name, `${e.isaName} ${e.reason}`, String(e.count.base), String(e.count.next), formatChange(e.count), num(e.rate.base), num(e.rate.next), pct(e.share.base), pct(e.share.next), bound(e.p50Ns, 'base'), bound(e.p50Ns, 'next'), bound(e.p99Ns, 'base'), bound(e.p99Ns, 'next')]),
        )
      : 'No exits on either side.',
  );
  if (d.pageFaults.count.base + d.pageFaults.count.next > 0) {
    out.push('', `Page faults ${d.pageFaults.count.base} -> ${d.pageFaults.count.next} (${formatChange(d.pageFaults.count)}), MMIO ${d.pageFaults.mmio.base} -> ${d.pageFaults.mmio.next}`);
    out.push(table(['KIND', 'BASE', 'NEW', 'CHANGE'], d.pageFaults.byKind.map((k) => [k.kind, String(k.count.base), String(k.count.next), formatChange(k.count)])));
  }
  if (d.handlers.length) {
    out.push('', table(['FAULT HANDLER', 'ROLE', 'BASE', 'NEW', 'CHANGE', 'P50<= BASE', 'NEW', 'P99<= BASE', 'NEW'], d.handlers.map((h) => [h.handler, h.role, String(h.count.base), String(h.count.next), formatChange(h.count), bound(h.p50Ns, 'base'), bound(h.p50Ns, 'next'), bound(h.p99Ns, 'base'), bound(h.p99Ns, 'next')]), [false, false, true, true, true, true, true, true, true]));
  }
  if (d.vms) {
    out.push('', d.vms.length ? table(['VM', 'BASE', 'NEW', 'CHANGE', 'RATE/s BASE', 'NEW', 'REASONS (BASE -> NEW)'], d.vms.map((v) => [v.name, String(v.totalExits.base), String(v.totalExits.next), formatChange(v.totalExits), num(v.rate.base), num(v.rate.next), v.exits.slice(0, 4).map((e) => `${e.name} ${e.count.base}->${e.count.next}`).join(', ')]), [false, true, true, true, true, true, false]) : 'No VMs on either side.');
  }
  if (d.hints.length) {
    out.push('');
    for (const h of d.hints) out.push(`${h.severity === 'warning' ? 'WARNING' : 'hint'}: ${h.message}`);
  }
  return `${out.join('\n')}\n`;
}

/** A markdown table; cells are escaped, but for the columns in `code` (text of ours, shown as code). */
export const mdTable = (header: string[], rows: string[][], code: readonly number[] = []): string =>
  [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((x) => `| ${x.map((c, i) => (code.includes(i) ? `\`${c}\`` : mdText(c))).join(' | ')} |`)].join('\n');

/** The diff's markdown body; `heading` is the level of its title ('###' by default). */
export function diffMarkdown(d: ReportDiff, heading = '###'): string {
  const s = safeStrings(d);
  const out = [`${heading} exitscope diff: ${s.total.count.base} -> ${s.total.count.next} exits (${mdText(formatChange(s.total.count))})`, ''];
  out.push(`- BASE: ${mdText(sideLine(s.base))}`, `- NEW: ${mdText(sideLine(s.next))}`, '');
  out.push(mdTable(['exit reason', 'base', 'new', 'change', 'rate/s base', 'rate/s new', 'share base', 'share new', 'p99 <= base', 'p99 <= new'], s.exits.map((e) => [e.name, String(e.count.base), String(e.count.next), formatChange(e.count), num(e.rate.base), num(e.rate.next), pct(e.share.base), pct(e.share.next), bound(e.p99Ns, 'base'), bound(e.p99Ns, 'next')])));
  if (s.pageFaults.count.base + s.pageFaults.count.next > 0) out.push('', mdTable(['page-fault kind', 'base', 'new', 'change'], s.pageFaults.byKind.map((k) => [k.kind, String(k.count.base), String(k.count.next), formatChange(k.count)])));
  if (s.handlers.length) out.push('', mdTable(['fault handler', 'role', 'base', 'new', 'change'], s.handlers.map((h) => [h.handler, h.role, String(h.count.base), String(h.count.next), formatChange(h.count)])));
  if (s.vms?.length) out.push('', mdTable(['VM', 'base', 'new', 'change', 'rate/s base', 'rate/s new'], s.vms.map((v) => [v.name, String(v.totalExits.base), String(v.totalExits.next), formatChange(v.totalExits), num(v.rate.base), num(v.rate.next)])));
  out.push('', `Lost events ${s.lostEvents.base} -> ${s.lostEvents.next}; gaps ${s.gaps.base} -> ${s.gaps.next}. Latency bounds are log2-bucket upper bounds.`);
  for (const h of s.hints) out.push('', `> **${h.severity}**: ${mdText(h.message)}`);
  return `${out.join('\n')}\n`;
}

export function formatDiff(d: ReportDiff, f: DiffFormat): string {
  switch (f) {
    case 'json':
      return `${safeJson(JSON.stringify(d, null, 2))}\n`;
    case 'markdown':
      return diffMarkdown(d);
    case 'text':
      return text(safeStrings(d));
  }
}
