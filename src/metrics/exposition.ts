/**
 * The Prometheus exposition of a MetricsModel (prom-client 15): one Registry with a collector
 * per family that reads the model at scrape time (nothing is copied into prom-client between
 * scrapes), plus prom-client's process metrics under their standard names. Names, types and
 * labels are a public interface (docs/metrics.md): change them only with a version note.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import { EXITSCOPE_VERSION } from '../version.js';
import { leSeconds, type Log2Histogram, type SlotRange } from './log2-buckets.js';
import type { MetricsModel } from './model.js';

type Labels = Record<string, string>;
interface Value {
  value: number;
  labels?: Labels;
  /** Labels the same on many lines: prom-client formats each such object once (a WeakMap). */
  sharedLabels?: Labels;
  metricName?: string;
}
interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  get(): { name: string; help: string; type: string; aggregator: 'sum'; values: Value[] };
}

const LOWER_BOUND_SUM = '_sum is a LOWER BOUND (each observation counted at its log2 bucket\'s lower bound; the kernel keeps no exact sum); _count and every bucket are exact';

export const HELP = {
  exits: 'VM exits counted by the kernel (kvm:kvm_exit), exactly: the sum of the stream\'s deltas',
  exitHandling: `Time from a VM exit to the next entry of that vCPU (kvm_exit to kvm_entry), from the kernel's log2 buckets; ${LOWER_BOUND_SUM}`,
  faults: 'KVM page faults (kvm:kvm_page_fault) by decoded error code: access read|write|fetch, present (a protection fault) and mmio (reserved-bit fault, AMD) true|false',
  handlerCalls: 'Calls of KVM\'s page-fault handlers (kprobes): kvm_tdp_page_fault is nested paging, paging64_page_fault etc. shadow paging',
  handlerSeconds: `Time in KVM's page-fault handlers, from the kernel's log2 buckets; ${LOWER_BOUND_SUM}`,
  nestedPaging: 'Nested paging (AMD NPT / Intel EPT) in the kvm module: 1 on, 0 off (shadow paging); absent when unknown',
  lost: 'Events the kernel could not hand to bpftrace (perf buffer full): counts are incomplete when this grows',
  gaps: 'Times bpftrace stopped and counting was interrupted (exits in a gap are not counted)',
  probeAttached: 'A probe exitscope uses: 1 attached, 0 not (tracepoint missing, not asked for)',
  buildInfo: 'exitscope\'s version and what it traces with: always 1',
  vmInfo: 'A VM process with its own vm label: always 1; source qemu|proxmox|process (name from its command line) or unknown (never named)',
} as const;

/** A family read from the model at scrape time. */
function family(name: string, type: Family['type'], help: string, values: () => Value[]): Family {
  return { name, type, help, aggregator: 'sum', get: () => ({ name, help, type, aggregator: 'sum', values: values() }) };
}

/** The bucket, sum and count lines of one series, on the family's `le` ladder. */
function histogramLines(out: Value[], name: string, shared: Labels, h: Log2Histogram | undefined, slots: SlotRange): void {
  let cumulative = 0;
  if (!slots.empty) {
    for (let i = slots.min; i <= slots.max; i++) {
      cumulative += h?.counts[i] ?? 0;
      out.push({ metricName: `${name}_bucket`, labels: { le: leSeconds(i) }, sharedLabels: shared, value: cumulative });
    }
  }
  out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, sharedLabels: shared, value: h?.count ?? 0 });
  out.push({ metricName: `${name}_sum`, sharedLabels: shared, value: (h?.lowerBoundSumNs ?? 0) / 1e9 });
  out.push({ metricName: `${name}_count`, sharedLabels: shared, value: h?.count ?? 0 });
}

/** The same labels object for the same series from scrape to scrape (prom-client formats it once). */
class SharedLabels {
  private readonly cache = new WeakMap<object, Labels>();
  of(owner: object, make: () => Labels): Labels {
    let l = this.cache.get(owner);
    if (!l) this.cache.set(owner, (l = make()));
    return l;
  }
}

export interface MetricsRegistryOptions {
  /** Also prom-client's process metrics (process_cpu_seconds_total, nodejs_*): true except in goldens. */
  processMetrics?: boolean;
}

export function metricsRegistry(model: MetricsModel, o: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  const shared = new SharedLabels();
  const families: Family[] = [
    family('exitscope_exits_total', 'counter', HELP.exits, () => {
      const out: Value[] = [];
      for (const [vm, s] of model.series) {
        for (const r of s.reasons.values()) {
          const labels = shared.of(r, () => ({ vm, reason: r.reason, isa: r.isa }));
          for (const [vcpu, n] of r.byVcpu) out.push(model.o.perVcpu ? { labels: { vcpu }, sharedLabels: labels, value: n } : { sharedLabels: labels, value: n });
        }
      }
      return out;
    }),
    family('exitscope_exit_handling_seconds', 'histogram', HELP.exitHandling, () => {
      const out: Value[] = [];
      for (const [vm, s] of model.series) {
        for (const r of s.reasons.values()) {
          if (!r.latency) continue;
          histogramLines(out, 'exitscope_exit_handling_seconds', shared.of(r, () => ({ vm, reason: r.reason, isa: r.isa })), r.latency, model.exitSlots);
        }
      }
      return out;
    }),
    family('exitscope_page_faults_total', 'counter', HELP.faults, () => {
      const out: Value[] = [];
      for (const [vm, s] of model.series) {
        for (const [k, n] of s.faults) {
          const [access = '', present = '', mmio = ''] = k.split(',');
          out.push({ labels: { vm, access, present, mmio }, value: n });
        }
      }
      return out;
    }),
    family('exitscope_fault_handler_calls_total', 'counter', HELP.handlerCalls, () => {
      const out: Value[] = [];
      for (const [vm, s] of model.series) for (const [h, e] of s.handlers) out.push({ labels: { vm, handler: model.handlerName(h) }, value: e.calls });
      return out;
    }),
    family('exitscope_fault_handler_seconds', 'histogram', HELP.handlerSeconds, () => {
      const out: Value[] = [];
      for (const [vm, s] of model.series) {
        for (const [h, e] of s.handlers) {
          if (!e.latency) continue;
          histogramLines(out, 'exitscope_fault_handler_seconds', shared.of(e, () => ({ vm, handler: model.handlerName(h) })), e.latency, model.handlerSlots);
        }
      }
      return out;
    }),
    family('exitscope_nested_paging', 'gauge', HELP.nestedPaging, () => {
      const tdp = model.hello?.tdp;
      return tdp === undefined || tdp === null ? [] : [{ value: tdp ? 1 : 0 }];
    }),
    family('exitscope_lost_events_total', 'counter', HELP.lost, () => [{ value: model.lostEvents }]),
    family('exitscope_collection_gaps_total', 'counter', HELP.gaps, () => [{ value: model.gaps }]),
    family('exitscope_probe_attached', 'gauge', HELP.probeAttached, () => (model.hello?.probes ?? []).map((p) => ({ labels: { probe: p.probe }, value: p.attached ? 1 : 0 }))),
    family('exitscope_build_info', 'gauge', HELP.buildInfo, () => {
      const h = model.hello;
      return [{ labels: { version: EXITSCOPE_VERSION, bpftrace: h?.bpftrace ?? 'unknown', kernel: h?.kernel ?? 'unknown', vendor: h?.vendor ?? 'unknown' }, value: 1 }];
    }),
    family('exitscope_vm_info', 'gauge', HELP.vmInfo, () => [...model.vms.own()].map((m) => ({ labels: { vm: m.label, pid: String(m.pid), source: m.source }, value: 1 }))),
  ];
  for (const f of families) registry.registerMetric(f as unknown as Parameters<Registry['registerMetric']>[0]);
  if (o.processMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

/** The content type of the text registry.metrics() returns. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
