/**
 * The HTML report: one self-contained file, the web page in its static mode (the same panels as
 * `serve`, over the whole recording, computed in the browser with the same model code) plus a
 * section rendered here: the report's numbers as the text report writes them, charts over time as
 * inline SVG (no script needed), the hints. The recording's (bounded) messages and the Report are
 * embedded as JSON in `<script type="application/json">` elements (`<` written as \u003c, so no
 * text in them can close the element). A CSP in the file: no request can leave it.
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
  /** The web page in static mode: livePage({ embeddedMessages: messages }) (src/server/live-page.ts). */
  page: { html: string; scriptHashes: string[] };
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
  out.push(`<p id="report-summary"${attr('total-exits', r.totalExits)}${attr('duration-seconds', r.durationSeconds)}${attr('lost-events', r.lostEvents)}${attr('complete', String(r.complete))}>`);
  out.push(`${e(r.durationSeconds.toFixed(1))} s, <b id="report-total-exits">${r.totalExits}</b> exits${r.complete ? '' : ' (incomplete: bpftrace did not print its final totals)'}, lost events: <b id="report-lost-events">${r.lostEvents}</b></p>`);
  out.push('<h3>Exit reasons</h3>');
  out.push(
    r.exits.length
      ? table(
          'report-exits',
          ['exit reason', 'ISA', 'count', 'rate/s', 'share', 'min', 'p50 <=', 'p99 <=', 'max <='],
          r.exits.map((x) => ({ cells: [x.name, `${x.isaName} ${x.reason}`, String(x.count), rate(x.rate), pct(x.share), ...lat(x.latency)], attrs: `${attr('isa', x.isa)}${attr('reason', x.reason)}${attr('count', x.count)}` })),
          [false, false, true, true, true, true, true, true, true],
        )
      : '<p>No exits were counted.</p>',
  );
  out.push('<h3>Page faults and fault handlers</h3>');
  out.push(`<p id="report-page-faults"${attr('count', r.pageFaults.count)}${attr('mmio', r.pageFaults.mmio)}>Page faults: ${r.pageFaults.count} (MMIO ${r.pageFaults.mmio})</p>`);
  if (r.pageFaults.byKind.length) out.push(table('report-fault-kinds', ['kind', 'count'], r.pageFaults.byKind.map((k) => ({ cells: [k.kind, String(k.count)], attrs: `${attr('kind', k.kind)}${attr('count', k.count)}` })), [false, true]));
  if (r.pageFaults.topRegions.length) out.push(table('report-fault-regions', ['VM', 'pid', '2 MiB region (GPA)', 'count'], r.pageFaults.topRegions.map((g) => ({ cells: [g.vm, String(g.pid), g.gpa, String(g.count)] })), [false, true, false, true]));
  const tdp = r.tdpFaults;
  out.push(
    `<p id="report-tdp"${attr('count', tdp.count)}>${
      tdp.handler ? e(`TDP fault handler ${tdp.handler}: ${tdp.count} calls${tdp.latency ? `, p50 <= ${formatNs(tdp.latency.p50Ns)}, p99 <= ${formatNs(tdp.latency.p99Ns)}` : ''}`) : 'TDP fault handler: not probed (no kprobes or no known symbol)'
    }</p>`,
  );
  if (r.handlers.length) out.push(table('report-handlers', ['handler', 'role', 'calls', 'p50 <=', 'p99 <='], r.handlers.map((h) => ({ cells: [h.handler, h.role, String(h.count), ...lat(h.latency).slice(1, 3)], attrs: `${attr('handler', h.handler)}${attr('count', h.count)}` })), [false, false, true, true, true]));
  if (r.vms.length) {
    out.push('<h3>VMs and vCPUs</h3>');
    out.push(
      table(
        'report-vms',
        ['VM', 'pid', 'exits', 'top reasons', 'vCPU:exits'],
        r.vms.map((v) => ({ cells: [v.name + (v.gone ? ' (gone)' : ''), String(v.pid), String(v.totalExits), v.exits.slice(0, 3).map((x) => `${x.name} ${x.count}`).join(', '), v.vcpus.map((c) => `${c.vcpu ?? `tid ${c.tid}`}:${c.count}`).join(' ')], attrs: `${attr('pid', v.pid)}${attr('exits', v.totalExits)}` })),
        [false, true, true, false, false],
      ),
    );
  }
  if (r.gaps.length || r.errors.length) {
    out.push('<h3>Gaps and errors</h3><ul id="report-notices">');
    for (const g of r.gaps) out.push(`<li>${e(`gap at ${(g.t / 1000).toFixed(1)} s: ${g.reason}${g.resumed ? ' (resumed)' : ' (not resumed)'}`)}</li>`);
    for (const x of r.errors) out.push(`<li>${e(`error [${x.code}]: ${x.message}`)}</li>`);
    out.push('</ul>');
  }
  out.push('<h3>Hints</h3>');
  out.push(r.hints.length ? `<ul id="report-hints">${r.hints.map((h) => `<li class="${h.severity === 'warning' ? 'warning' : 'hint'}"><b>${h.severity === 'warning' ? 'WARNING' : 'hint'}:</b> ${e(h.message)}</li>`).join('\n')}</ul>` : '<p id="report-hints">No hints: nothing stands out.</p>');
  return out.join('\n');
}

function charts(messages: readonly Message[], perPoint: number, intervalMs: number): string {
  const ts = timeSeries(messages);
  if (ts.t.length === 0) return '<p>No snapshots: nothing to chart.</p>';
  const res = perPoint > 1 ? `each point sums ${perPoint} intervals of ${intervalMs} ms` : `one point per ${intervalMs} ms interval`;
  return [
    `<h3>Over time</h3><p class="muted">exits per second; ${e(res)}</p>`,
    `<div id="report-chart-total">${lineChart(ts.t, [ts.total], { yLabel: 'all exits/s' })}</div>`,
    ts.reasons.length ? `<div id="report-chart-reasons">${lineChart(ts.t, ts.reasons, { yLabel: 'exits/s by reason' })}${legend(ts.reasons)}</div>` : '',
  ].join('\n');
}

/** Where the report goes into the page: before the embedded recording (the contract's element). */
const RECORDING_ELEMENT = '<script type="application/json" id="exitscope-recording">';
const CHARSET = '<meta charset="utf-8">';

/** The report's own section (numbers as the text report writes them, charts over time), styled within #report. */
export function reportSection(input: Omit<HtmlReportInput, 'page'>): string {
  const r = safeStrings(input.report); // shown text: controls and bidi spelled out; numbers unchanged
  const hello = input.messages[0]?.type === 'hello' ? input.messages[0] : undefined;
  const meta = `kernel ${r.kernel}, bpftrace ${r.bpftrace}, ${r.vendor}${r.tdp === null ? '' : r.tdp ? ' (nested paging on)' : ' (nested paging OFF)'}`;
  return `<style>#report h2{font-size:15px;margin:16px 0 6px}#report h3{font-size:14px;margin:12px 0 4px}#report table{border-collapse:collapse;margin:6px 0}
#report td,#report th{padding:2px 10px;text-align:left;border-bottom:1px solid var(--line,#eee)}#report td.n,#report th.n{text-align:right;font-variant-numeric:tabular-nums}
#report li.warning{font-weight:600}#report .legend span{display:inline-block;margin-right:14px;font-size:12px}#report .legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
#report svg.chart{background:#fff;max-width:100%;height:auto}</style>
<section id="report" class="panel" aria-labelledby="report-title">
<h2 id="report-title">Report: ${e(r.host)}</h2>
<div class="muted">${e(meta)} · started ${e(safeText(hello?.startedAt ?? '?'))} · from ${e(input.source)} (as <code>exitscope report</code> prints it)</div>
${reportSections(r)}
${charts(input.messages, input.perPoint, hello?.intervalMs ?? 1000)}
</section>
<script type="application/json" id="exitscope-report">${embeddedJson(input.report)}</script>
`;
}

/**
 * The web page in its static mode (livePage({ embeddedMessages }): the interactive panels over the
 * whole recording) with the report's section added, and a CSP in the file itself: only the page's
 * own hashed script runs, and nothing may be fetched or connected to (default-src 'none').
 */
export function renderHtmlReport(input: HtmlReportInput): string {
  const { html, scriptHashes } = input.page;
  const at = html.indexOf(RECORDING_ELEMENT);
  const head = html.indexOf(CHARSET);
  if (at < 0 || head < 0) throw new Error('the web page has no embedded recording or charset element: src/server/live-page.ts and the HTML report disagree');
  const scripts = scriptHashes.map((h) => `'sha256-${h}'`).join(' ') || "'none'";
  const csp = `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src ${scripts}; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">\n<meta name="referrer" content="no-referrer">`;
  const withReport = `${html.slice(0, at)}${reportSection(input)}${html.slice(at)}`;
  const cut = head + CHARSET.length;
  return `${withReport.slice(0, cut)}\n${csp}${withReport.slice(cut)}`;
}
