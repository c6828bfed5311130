/**
 * Report formats: text (for terminals), json (for scripts), csv (one row per
 * exit reason), markdown (for CI summaries). Pure functions of a Report.
 */
import { formatNs, type LatencySummary } from './histogram.js';
import type { Report } from './report.js';
import { scopeLine } from './scope-line.js';
import { safeJson, safeStrings } from '../views/safe-text.js';

export const FORMATS = ['text', 'json', 'csv', 'markdown'] as const;
export type Format = (typeof FORMATS)[number];

/** Cells as the text report writes them (the HTML report, src/html-report, shows the same). */
export const lat = (l: LatencySummary | undefined): string[] => (l ? [formatNs(l.minNs), formatNs(l.p50Ns), formatNs(l.p99Ns), formatNs(l.maxNs)] : ['-', '-', '-', '-']);
export const rate = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
export const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** A text table; by default the first column is left-aligned and the others (numbers) right-aligned. */
export function table(header: string[], rows: string[][], rightAligned: boolean[] = header.map((_, i) => i > 0)): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function text(r: Report): string {
  const out: string[] = [];
  out.push(`exitscope report: ${r.host}, kernel ${r.kernel}, bpftrace ${r.bpftrace}, ${r.vendor}${r.tdp === null ? '' : r.tdp ? ' (nested paging on)' : ' (nested paging OFF)'}`);
  out.push(`${r.durationSeconds.toFixed(1)} s, ${r.totalExits} exits${r.complete ? '' : ' (incomplete: bpftrace did not print its final totals)'}, lost events: ${r.lostEvents}`);
  if (r.scope) out.push(scopeLine(r.scope));
  out.push('');
  out.push(
    r.exits.length
      ? table(
          ['EXIT REASON', 'ISA', 'COUNT', 'RATE/s', 'SHARE', 'MIN', 'P50<=', 'P99<=', 'MAX<='],
          r.exits.map((e) => [e.name, `${e.isaName} ${e.reason}`, String(e.count), rate(e.rate), pct(e.share), ...lat(e.latency)]),
        )
      : 'No exits were counted.',
  );
  out.push('');
  if (r.pageFaults.count > 0) {
    out.push(`Page faults: ${r.pageFaults.count} (MMIO ${r.pageFaults.mmio})`);
    out.push(table(['KIND', 'COUNT'], r.pageFaults.byKind.map((k) => [k.kind, String(k.count)])));
    out.push('');
  }
  out.push(
    r.tdpFaults.handler
      ? `TDP fault handler ${r.tdpFaults.handler}: ${r.tdpFaults.count} calls${r.tdpFaults.latency ? `, p50 <= ${formatNs(r.tdpFaults.latency.p50Ns)}, p99 <= ${formatNs(r.tdpFaults.latency.p99Ns)}` : ''}`
      : 'TDP fault handler: not probed (no kprobes or no known symbol)',
  );
  for (const h of r.handlers.filter((x) => x.role === 'shadow' && x.count > 0)) out.push(`Shadow-paging handler ${h.handler}: ${h.count} calls${h.latency ? `, p50 <= ${formatNs(h.latency.p50Ns)}` : ''}`);
  if (r.vms.length) {
    out.push('');
    out.push(table(['VM', 'PID', 'EXITS', 'TOP REASONS', 'VCPU:EXITS'], r.vms.map((v) => [v.name + (v.gone ? ' (gone)' : ''), String(v.pid), String(v.totalExits), v.exits.slice(0, 3).map((e) => `${e.name} ${e.count}`).join(', '), v.vcpus.map((c) => `${c.vcpu ?? `tid ${c.tid}`}:${c.count}`).join(' ')]), [false, true, true, false, false]));
  }
  for (const g of r.gaps) out.push(`gap at ${(g.t / 1000).toFixed(1)} s: ${g.reason}${g.resumed ? ' (resumed)' : ' (not resumed)'}`);
  for (const e of r.errors) out.push(`error [${e.code}]: ${e.message}`);
  if (r.hints.length) {
    out.push('');
    for (const h of r.hints) out.push(`${h.severity === 'warning' ? 'WARNING' : 'hint'}: ${h.message}`);
  }
  return `${out.join('\n')}\n`;
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function csv(r: Report): string {
  const rows = [['isa', 'reason', 'name', 'count', 'rate_per_s', 'share', 'min_ns', 'p50_ns_le', 'p99_ns_le', 'max_ns_le']];
  for (const e of r.exits) rows.push([e.isaName, String(e.reason), e.name, String(e.count), e.rate.toFixed(3), e.share.toFixed(6), ...(e.latency ? [e.latency.minNs, e.latency.p50Ns, e.latency.p99Ns, e.latency.maxNs].map(String) : ['', '', '', ''])]);
  return `${rows.map((r) => r.map(csvCell).join(',')).join('\n')}\n`;
}

/**
 * Text in markdown that stays text: the characters that start structure (a table cell's pipe,
 * links and images, inline HTML, code spans, emphasis) are backslash-escaped. Line breaks are
 * already gone (safeStrings spells them out), so no text can start a heading or a table row.
 */
/** Text from outside in markdown: the characters that would make links, emphasis, HTML or table cells are escaped. */
export const mdText = (s: string): string => s.replace(/[\\`*[\]<>|_]/g, (c) => `\\${c}`);

function markdown(r: Report): string {
  const md = (header: string[], rows: string[][]): string => [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((x) => `| ${x.map(mdText).join(' | ')} |`)].join('\n');
  const out = [`### exitscope: ${r.totalExits} exits in ${r.durationSeconds.toFixed(1)} s on ${mdText(r.host)} (${mdText(r.kernel)})`, ''];
  if (r.scope) out.push(mdText(scopeLine(r.scope)), '');
  out.push(md(['exit reason', 'count', 'rate/s', 'share', 'p50 <=', 'p99 <='], r.exits.map((e) => [e.name, String(e.count), rate(e.rate), pct(e.share), ...lat(e.latency).slice(1, 3)])));
  out.push('', `Page faults: ${r.pageFaults.count} (MMIO ${r.pageFaults.mmio}); TDP handler ${mdText(r.tdpFaults.handler ?? 'not probed')}: ${r.tdpFaults.count}; lost events: ${r.lostEvents}`);
  for (const h of r.hints) out.push('', `> **${h.severity}**: ${mdText(h.message)}`);
  return `${out.join('\n')}\n`;
}

export function formatReport(r: Report, f: Format): string {
  // JSON keeps every value exact (escaped, never changed); the formats read on a terminal or
  // rendered as a page get the report with external strings neutralised (src/views/safe-text.ts)
  if (f === 'json') return `${safeJson(JSON.stringify(r, null, 2))}\n`;
  const safe = safeStrings(r);
  switch (f) {
    case 'csv':
      return csv(safe);
    case 'markdown':
      return markdown(safe);
    case 'text':
      return text(safe);
  }
}
