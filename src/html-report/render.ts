/**
 * The HTML report: one self-contained file (no script from anywhere, no request: a CSP in the
 * file forbids them) with the report's numbers as the text report writes them, charts over time
 * as inline SVG, and the hints. The recording's (bounded) messages and the Report are embedded as
 * JSON in `<script type="application/json">` elements (`<` written as \u003c, so no text in them
 * can close the element): for scripts, and for the web page's static mode when it is embedded.
 * Every text from the recording (host, VM names, messages) is escaped. Pure: no I/O.
 */
import { escapeXml } from '../flame/svg.js';
import { formatNs } from '../report/histogram.js';
import { lat, pct, rate } from '../report/format.js';
import type { Report } from '../report/report.js';
import type { Message } from '../protocol/messages.js';
import { safeStrings, safeText } from '../views/safe-text.js';
import { legend, lineChart } from './svg-chart.js';
import { timeSeries } from './time-series.js';

export interface HtmlReportInput {
  report: Report;
  /** The bounded stream (bounded-messages.ts). */
  messages: readonly Message[];
  /** Where it came from, shown in the header (the recording's file name). */
  source: string;
  /** How many of the recording's intervals each point sums (1: every interval is a point). */
  perPoint: number;
  /**
   * The interactive web page (src/server/live-page.ts) in its static mode, when it is available:
   * its HTML is not used; its script (whose hashes the CSP allows) and elements are added after
   * the report. Absent: the report alone, with no script at all.
   */
  page?: { body: string; head: string; scriptHashes: string[] };
}

/** JSON that stays inside its script element: no `<` at all (so no `</script>` or `<!--`). */
export function embeddedJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const e = escapeXml;

function table(id: string, header: string[], rows: { cells: string[]; attrs?: string }[], numeric: boolean[]): string {
  const th = header.map((h, i) => `<th${numeric[i] ? ' class="n"' : ''}>${e(h)}</th>`).join('');
  const body = rows.map((r) => `<tr${r.attrs ?? ''}>${r.cells.map((c, i) => `<td${numeric[i] ? ' class="n"' : ''}>${e(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table id="${id}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** data-* values: numbers as JSON writes them, text escaped. */
const attr = (name: string, value: string | number): string => ` data-${name}="${e(String(value))}"`;

function reportSections(r: Report): string {
  const out: string[] = [];
  out.push(`<p id="summary"${attr('total-exits', r.totalExits)}${attr('duration-seconds', r.durationSeconds)}${attr('lost-events', r.lostEvents)}${attr('complete', String(r.complete))}>`);
  out.push(`${e(r.durationSeconds.toFixed(1))} s, <b id="total-exits">${r.totalExits}</b> exits${r.complete ? '' : ' (incomplete: bpftrace did not print its final totals)'}, lost events: <b id="lost-events">${r.lostEvents}</b></p>`);
  out.push('<h2>Exit reasons</h2>');
  out.push(
    r.exits.length
      ? table(
          'exits',
          ['exit reason', 'ISA', 'count', 'rate/s', 'share', 'min', 'p50 <=', 'p99 <=', 'max <='],
          r.exits.map((x) => ({ cells: [x.name, `${x.isaName} ${x.reason}`, String(x.count), rate(x.rate), pct(x.share), ...lat(x.latency)], attrs: `${attr('isa', x.isa)}${attr('reason', x.reason)}${attr('count', x.count)}` })),
          [false, false, true, true, true, true, true, true, true],
        )
      : '<p>No exits were counted.</p>',
  );
  out.push('<h2>Page faults and fault handlers</h2>');
  out.push(`<p id="page-faults"${attr('count', r.pageFaults.count)}${attr('mmio', r.pageFaults.mmio)}>Page faults: ${r.pageFaults.count} (MMIO ${r.pageFaults.mmio})</p>`);
  if (r.pageFaults.byKind.length) out.push(table('fault-kinds', ['kind', 'count'], r.pageFaults.byKind.map((k) => ({ cells: [k.kind, String(k.count)], attrs: `${attr('kind', k.kind)}${attr('count', k.count)}` })), [false, true]));
  if (r.pageFaults.topRegions.length) out.push(table('fault-regions', ['VM', 'pid', '2 MiB region (GPA)', 'count'], r.pageFaults.topRegions.map((g) => ({ cells: [g.vm, String(g.pid), g.gpa, String(g.count)] })), [false, true, false, true]));
  const tdp = r.tdpFaults;
  out.push(
    `<p id="tdp"${attr('count', tdp.count)}>${
      tdp.handler ? e(`TDP fault handler ${tdp.handler}: ${tdp.count} calls${tdp.latency ? `, p50 <= ${formatNs(tdp.latency.p50Ns)}, p99 <= ${formatNs(tdp.latency.p99Ns)}` : ''}`) : 'TDP fault handler: not probed (no kprobes or no known symbol)'
    }</p>`,
  );
  if (r.handlers.length) out.push(table('handlers', ['handler', 'role', 'calls', 'p50 <=', 'p99 <='], r.handlers.map((h) => ({ cells: [h.handler, h.role, String(h.count), ...lat(h.latency).slice(1, 3)], attrs: `${attr('handler', h.handler)}${attr('count', h.count)}` })), [false, false, true, true, true]));
  if (r.vms.length) {
    out.push('<h2>VMs and vCPUs</h2>');
    out.push(
      table(
        'vms',
        ['VM', 'pid', 'exits', 'top reasons', 'vCPU:exits'],
        r.vms.map((v) => ({ cells: [v.name + (v.gone ? ' (gone)' : ''), String(v.pid), String(v.totalExits), v.exits.slice(0, 3).map((x) => `${x.name} ${x.count}`).join(', '), v.vcpus.map((c) => `${c.vcpu ?? `tid ${c.tid}`}:${c.count}`).join(' ')], attrs: `${attr('pid', v.pid)}${attr('exits', v.totalExits)}` })),
        [false, true, true, false, false],
      ),
    );
  }
  if (r.gaps.length || r.errors.length) {
    out.push('<h2>Gaps and errors</h2><ul id="notices">');
    for (const g of r.gaps) out.push(`<li>${e(`gap at ${(g.t / 1000).toFixed(1)} s: ${g.reason}${g.resumed ? ' (resumed)' : ' (not resumed)'}`)}</li>`);
    for (const x of r.errors) out.push(`<li>${e(`error [${x.code}]: ${x.message}`)}</li>`);
    out.push('</ul>');
  }
  out.push('<h2>Hints</h2>');
  out.push(r.hints.length ? `<ul id="hints">${r.hints.map((h) => `<li class="${h.severity === 'warning' ? 'warning' : 'hint'}"><b>${h.severity === 'warning' ? 'WARNING' : 'hint'}:</b> ${e(h.message)}</li>`).join('\n')}</ul>` : '<p id="hints">No hints: nothing stands out.</p>');
  return out.join('\n');
}

function charts(messages: readonly Message[], perPoint: number, intervalMs: number): string {
  const ts = timeSeries(messages);
  if (ts.t.length === 0) return '<p>No snapshots: nothing to chart.</p>';
  const res = perPoint > 1 ? `each point sums ${perPoint} intervals of ${intervalMs} ms` : `one point per ${intervalMs} ms interval`;
  return [
    `<h2>Over time</h2><p class="muted">exits per second; ${e(res)}</p>`,
    `<div id="chart-total">${lineChart(ts.t, [ts.total], { yLabel: 'all exits/s' })}</div>`,
    ts.reasons.length ? `<div id="chart-reasons">${lineChart(ts.t, ts.reasons, { yLabel: 'exits/s by reason' })}${legend(ts.reasons)}</div>` : '',
  ].join('\n');
}

export function renderHtmlReport(input: HtmlReportInput): string {
  const r = safeStrings(input.report); // shown text: controls and bidi spelled out; numbers unchanged
  const title = `exitscope report: ${r.host}`;
  const scripts = input.page?.scriptHashes.map((h) => `'sha256-${h}'`).join(' ') || "'none'";
  // no request may leave the file: no connect, no image, font or frame from anywhere
  const csp = `default-src 'none'; script-src ${scripts}; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'`;
  const hello = input.messages[0]?.type === 'hello' ? input.messages[0] : undefined;
  const meta = `${r.kernel}, bpftrace ${r.bpftrace}, ${r.vendor}${r.tdp === null ? '' : r.tdp ? ' (nested paging on)' : ' (nested paging OFF)'}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<title>${e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:16px;background:#fafafa;color:#222;max-width:1100px}h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 6px}
.muted{color:#666}table{border-collapse:collapse;margin:6px 0}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
li.warning{color:#b42318}.legend span{display:inline-block;margin-right:14px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}svg.chart{background:#fff}</style>
${input.page?.head ?? ''}
</head>
<body>
<header><h1>exitscope report <span class="muted">${e(r.host)}</span></h1>
<div class="muted">kernel ${e(meta)} · started ${e(safeText(hello?.startedAt ?? '?'))} · from ${e(input.source)}</div></header>
<main id="report">
${reportSections(r)}
${charts(input.messages, input.perPoint, hello?.intervalMs ?? 1000)}
</main>
<script type="application/json" id="exitscope-report">${embeddedJson(input.report)}</script>
<script type="application/json" id="exitscope-recording">${embeddedJson(input.messages)}</script>
${input.page ? `<section id="live-page"><h2>Interactive view</h2>\n${input.page.body}\n</section>` : ''}
</body></html>
`;
}
