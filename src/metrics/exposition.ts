/**
 * The Prometheus exposition of a MetricsModel: each family reads the model at scrape time
 * (nothing is copied between scrapes) and hands its lines to a sink. Two consumers:
 * - metricsEndpoint (what /metrics serves): text-format.ts writes the lines into a buffer, then
 *   prom-client's process metrics follow, under their standard names;
 * - metricsRegistry: the same families as prom-client 15 collectors (objects with get()) in its
 *   Registry, the reference the served text is tested against byte for byte.
 * Names, types and labels are a public interface (docs/metrics.md): change them only with a
 * version note.
 */
import { Registry } from 'prom-client';
import { processMetricsInto } from './process-metrics.js';
import { EveryLine, type FamilyDef, type LineOut, type Labels, TextFormatter } from './text-format.js';
import { EXITSCOPE_VERSION } from '../version.js';
import { BUCKET_SLOTS, leSeconds, type Log2Histogram, type SlotRange } from './log2-buckets.js';
import type { HandlerSeries, MetricsModel, ReasonSeries } from './model.js';

/** prom-client's shape of a collected family (Registry.registerMetric of an object with get()). */
interface Value {
  value: number;
  labels?: Labels;
  sharedLabels?: Labels;
  metricName?: string;
}

const LOWER_BOUND_SUM = '_sum is a LOWER BOUND (each observation counted at its log2 bucket\'s lower bound; the kernel keeps no exact sum); _count and every bucket are exact';

export const HELP = {
  exits: 'VM exits counted by the kernel (kvm:kvm_exit), exactly: the sum of the stream\'s deltas',
  exitHandling: `Time from a VM exit to the next entry of that vCPU (kvm_exit to kvm_entry), from the kernel's log2 buckets; ${LOWER_BOUND_SUM}`,
  faults: 'KVM page faults (kvm:kvm_page_fault) by decoded error code: access read|write|fetch, present (a protection fault) and mmio (reserved-bit fault, AMD) true|false',
  handlerCalls: 'Calls of KVM\'s page-fault handlers (kprobes): kvm_tdp_page_fault is nested paging, paging64_page_fault etc. shadow paging',
  handlerSeconds: `Time in KVM's page-fault handlers, from the kernel's log2 buckets; ${LOWER_BOUND_SUM}`,
  nestedPaging: 'Nested paging (AMD NPT / Intel EPT) in the kvm module: 1 on, 0 off (shadow paging); absent when unknown',
  lost: 'Events the kernel could not hand to bpftrace (its buffer full), and counts it could not keep (a map update that failed): counts are incomplete when this grows',
  gaps: 'Times bpftrace stopped and counting was interrupted (exits in a gap are not counted)',
  probeAttached: 'A probe exitscope uses: 1 attached, 0 not (tracepoint missing, not asked for)',
  buildInfo: 'exitscope\'s version and what it traces with: always 1',
  vmInfo: 'A VM process with its own vm label: always 1; source qemu|proxmox|process (name from its command line) or unknown (never named)',
} as const;

/** A family read from the model at scrape time. */
function family(name: string, type: FamilyDef['type'], help: string, each: (out: LineOut) => void): FamilyDef {
  return { name, type, help, each };
}

/** The `le` labels, one object per slot for good (the formatter escapes each once). */
const LE_LABELS: Labels[] = Array.from({ length: BUCKET_SLOTS }, (_, i) => ({ le: leSeconds(i) }));
const LE_INF: Labels = { le: '+Inf' };

/** A histogram family's line names, made once (the formatter looks names up by string). */
interface HistogramNames {
  bucket: string;
  sum: string;
  count: string;
}
const histogramNames = (name: string): HistogramNames => ({ bucket: `${name}_bucket`, sum: `${name}_sum`, count: `${name}_count` });

/** The bucket, sum and count lines of one series, on the family's `le` ladder. */
function histogramLines(out: LineOut, names: HistogramNames, shared: Labels, h: Log2Histogram, slots: SlotRange): void {
  let cumulative = 0;
  if (!slots.empty) {
    const counts = h.counts;
    for (let i = slots.min; i <= slots.max; i++) {
      cumulative += counts[i] ?? 0;
      out.line(names.bucket, LE_LABELS[i], shared, cumulative);
    }
  }
  out.line(names.bucket, LE_INF, shared, h.count);
  out.line(names.sum, undefined, shared, h.lowerBoundSumNs / 1e9);
  out.line(names.count, undefined, shared, h.count);
}

export interface MetricsRegistryOptions {
  /** Also prom-client's process metrics (process_cpu_seconds_total, nodejs_*): true except in goldens. */
  processMetrics?: boolean;
}

function modelFamilies(model: MetricsModel): FamilyDef[] {
  const exitHandling = histogramNames('exitscope_exit_handling_seconds');
  const handlerSeconds = histogramNames('exitscope_fault_handler_seconds');
  /** --metrics-vcpu: one `vcpu` labels object per value, for good. */
  const vcpuLabels = new Map<string, Labels>();
  const vcpuOf = (vcpu: string): Labels => {
    let l = vcpuLabels.get(vcpu);
    if (!l) vcpuLabels.set(vcpu, (l = { vcpu }));
    return l;
  };
  // a series' labels object, made on first use and kept by the model entry (its `labels` slot)
  const reasonLabels = (vm: string, r: ReasonSeries): Labels => (r.labels ??= { vm, reason: r.reason, isa: r.isa }) as Labels;
  const handlerLabels = (vm: string, h: number, e: HandlerSeries): Labels => (e.labels ??= { vm, handler: model.handlerName(h) }) as Labels;
  return [
    // each series' lines are one series of the LineOut (text-format.ts copies them from the last
    // scrape unless they moved), told what their text depends on: the entries added to it, and the
    // `le` ladder
    family('exitscope_exits_total', 'counter', HELP.exits, (out) => {
      const perVcpu = model.o.perVcpu;
      for (const [vm, s] of model.series) {
        for (const r of s.reasons.values()) {
          if (!out.begin(r, 0, r.changes, 0)) continue;
          const shared = reasonLabels(vm, r);
          for (const [vcpu, n] of r.byVcpu) out.line('exitscope_exits_total', perVcpu ? vcpuOf(vcpu) : undefined, shared, n);
          out.end();
        }
      }
    }),
    family('exitscope_exit_handling_seconds', 'histogram', HELP.exitHandling, (out) => {
      const ladder = model.exitSlots;
      for (const [vm, s] of model.series) {
        for (const r of s.reasons.values()) {
          const h = r.latency;
          if (!h || !out.begin(r, 1, r.changes, ladder.shape)) continue;
          histogramLines(out, exitHandling, reasonLabels(vm, r), h, ladder);
          out.end();
        }
      }
    }),
    family('exitscope_page_faults_total', 'counter', HELP.faults, (out) => {
      for (const [vm, s] of model.series) {
        if (!out.begin(s.faultKinds, 0, s.faultKinds.changes, 0)) continue;
        const kinds = (s.faultLabels ??= new Map());
        for (const [k, n] of s.faults) {
          let l = kinds.get(k) as Labels | undefined;
          if (!l) {
            const [access = '', present = '', mmio = ''] = k.split(',');
            kinds.set(k, (l = { vm, access, present, mmio }));
          }
          out.line('exitscope_page_faults_total', l, undefined, n);
        }
        out.end();
      }
    }),
    family('exitscope_fault_handler_calls_total', 'counter', HELP.handlerCalls, (out) => {
      for (const [vm, s] of model.series) {
        for (const [h, e] of s.handlers) {
          if (!out.begin(e, 0, e.changes, 0)) continue;
          out.line('exitscope_fault_handler_calls_total', handlerLabels(vm, h, e), undefined, e.calls);
          out.end();
        }
      }
    }),
    family('exitscope_fault_handler_seconds', 'histogram', HELP.handlerSeconds, (out) => {
      const ladder = model.handlerSlots;
      for (const [vm, s] of model.series) {
        for (const [h, e] of s.handlers) {
          const hist = e.latency;
          if (!hist || !out.begin(e, 1, e.changes, ladder.shape)) continue;
          histogramLines(out, handlerSeconds, handlerLabels(vm, h, e), hist, ladder);
          out.end();
        }
      }
    }),
    family('exitscope_nested_paging', 'gauge', HELP.nestedPaging, (out) => {
      const tdp = model.hello?.tdp;
      if (tdp === true || tdp === false) out.line('exitscope_nested_paging', undefined, undefined, tdp ? 1 : 0);
    }),
    family('exitscope_lost_events_total', 'counter', HELP.lost, (out) => out.line('exitscope_lost_events_total', undefined, undefined, model.lostEvents)),
    family('exitscope_collection_gaps_total', 'counter', HELP.gaps, (out) => out.line('exitscope_collection_gaps_total', undefined, undefined, model.gaps)),
    family('exitscope_probe_attached', 'gauge', HELP.probeAttached, (out) => {
      for (const p of model.hello?.probes ?? []) out.line('exitscope_probe_attached', { probe: p.probe }, undefined, p.attached ? 1 : 0);
    }),
    family('exitscope_build_info', 'gauge', HELP.buildInfo, (out) => {
      const h = model.hello;
      out.line('exitscope_build_info', { version: EXITSCOPE_VERSION, bpftrace: h?.bpftrace ?? 'unknown', kernel: h?.kernel ?? 'unknown', vendor: h?.vendor ?? 'unknown' }, undefined, 1);
    }),
    family('exitscope_vm_info', 'gauge', HELP.vmInfo, (out) => {
      for (const m of model.vms.own()) out.line('exitscope_vm_info', (m.labels ??= { vm: m.label, pid: String(m.pid), source: m.source }) as Labels, undefined, 1);
    }),
  ];
}

/** A family as prom-client collects it: an object with get() (values made at each scrape). */
function promClientMetric(f: FamilyDef): object {
  const get = () => {
    const values: Value[] = [];
    f.each(new EveryLine((metricName, labels, sharedLabels, value) => values.push({ metricName, value, ...(labels ? { labels } : {}), ...(sharedLabels ? { sharedLabels } : {}) })));
    return { name: f.name, help: f.help, type: f.type, aggregator: 'sum', values };
  };
  return { name: f.name, help: f.help, type: f.type, aggregator: 'sum', get };
}

/**
 * prom-client's own Registry of the model's families (and the process metrics): the reference
 * the fast text is tested against, and what a caller wanting JSON (getMetricsAsJSON) uses.
 */
export function metricsRegistry(model: MetricsModel, o: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  for (const f of modelFamilies(model)) registry.registerMetric(promClientMetric(f) as Parameters<Registry['registerMetric']>[0]);
  if (o.processMetrics !== false) processMetricsInto(registry);
  return registry;
}

/** What /metrics serves: the body of a scrape (UTF-8 text) and its content type. */
export interface MetricsEndpoint {
  readonly contentType: string;
  /**
   * A scrape's body as parts, to be sent in order. Give them back with release() once sent (or
   * never, if the client went away mid-way): their memory is then reused by a later scrape.
   */
  scrape(): Promise<Buffer[]>;
  release(parts: readonly Buffer[]): void;
  /** A scrape's body in one buffer of its own (tests, a caller that keeps it): nothing to give back. */
  body(): Promise<Buffer>;
}

export function metricsEndpoint(model: MetricsModel, o: MetricsRegistryOptions = {}): MetricsEndpoint {
  const families = modelFamilies(model);
  const formatter = new TextFormatter();
  const processRegistry = o.processMetrics !== false ? new Registry() : undefined;
  if (processRegistry) processMetricsInto(processRegistry);
  /** The model's version the formatter's last body was written from. */
  let written = -1;
  const scrape = async (): Promise<Buffer[]> => {
    // prom-client's own text for its process metrics (few lines), without its final newline
    const tail = processRegistry ? (await processRegistry.metrics()).replace(/\n$/, '') : undefined;
    // nothing applied since the last body (an exporter reading bpftrace every 5 s, scraped every
    // second): its families' text as it is, without walking 10^5 series to find none moved
    if (model.version === written) {
      const again = formatter.again(tail);
      if (again) return again;
    }
    const body = formatter.write(families, tail);
    // only once written: a scrape that throws half-way must not make the next one resend the old body
    written = model.version;
    return [body];
  };
  const release = (parts: readonly Buffer[]): void => {
    if (parts[0]) formatter.release(parts[0]);
  };
  return {
    contentType: Registry.PROMETHEUS_CONTENT_TYPE,
    scrape,
    release,
    async body() {
      const parts = await scrape();
      const one = Buffer.concat(parts);
      release(parts);
      return one;
    },
  };
}
