/**
 * `exitscope top --plain`: the model as a text table, for terminals without a
 * dashboard and for logs. Pure: a function of the model and a window.
 */
import type { Aggregate } from '../model/aggregate.js';
import { table } from '../report/format.js';
import { formatNs } from '../report/histogram.js';
import { buildReport } from '../report/report.js';
import { scopeLine } from '../report/scope-line.js';
import { safeStrings } from './safe-text.js';

export function plainTop(agg: Aggregate, windowMs: number, maxRows = 20): string {
  const w = agg.window(windowMs);
  // names and hello strings come from the stream: neutralised before they become terminal text
  const r = safeStrings(buildReport(agg, w));
  const h = safeStrings(agg.hello);
  const secs = w.ms / 1000;
  const head = `exitscope  ${h?.host ?? ''}  kernel ${h?.kernel ?? '?'}  bpftrace ${h?.bpftrace ?? '?'}  window ${secs.toFixed(1)}s  exits/s ${secs > 0 ? (r.totalExits / secs).toFixed(0) : '0'}  lost ${agg.lost}${r.scope ? `\n${scopeLine(r.scope)}` : ''}`;
  if (agg.snapshots === 0) return `${head}\nwaiting for the first interval...\n`;
  if (r.totalExits === 0) return `${head}\nno exits in this window (no VM running, or all idle)\n`;
  const rows = r.exits.slice(0, maxRows).map((e) => [e.name, String(e.count), e.rate.toFixed(0), `${(e.share * 100).toFixed(1)}%`, e.latency ? formatNs(e.latency.p50Ns) : '-', e.latency ? formatNs(e.latency.p99Ns) : '-']);
  const vms = r.vms.slice(0, 5).map((v) => `${v.name}[${v.pid}] ${secs > 0 ? (v.totalExits / secs).toFixed(0) : 0}/s`).join('  ');
  const faults = r.pageFaults.count ? `page faults ${r.pageFaults.count} (MMIO ${r.pageFaults.mmio})  ${r.tdpFaults.handler ?? 'tdp'} ${r.tdpFaults.count}` : '';
  return `${head}\n${table(['REASON', 'COUNT', 'RATE/s', 'SHARE', 'P50<=', 'P99<='], rows)}\n${faults}${faults ? '\n' : ''}VMs: ${vms}\n`;
}
