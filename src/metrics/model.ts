/**
 * The metrics model: consumes the ONE message stream (src/protocol/messages.ts) and keeps exactly
 * the families docs/metrics.md lists, by their labels. Counters are the exact sum of the
 * snapshots' deltas; histograms are the kernel's log2 buckets summed (log2-buckets.ts). No I/O,
 * no clock: time is the stream's. Memory is bounded by the series (VMs within the grace period,
 * capped; see vm-labels.ts), never by time.
 */
import type { HelloMessage, Message, SnapshotMessage } from '../protocol/messages.js';
import { faultIsa, faultLabels, handlerLabel, reasonLabels, vcpuLabel } from './labels.js';
import { Log2Histogram, SlotRange } from './log2-buckets.js';
import { VmLabels } from './vm-labels.js';

export interface MetricsOptions {
  /** At most this many VM processes have their own `vm` label at once; the rest are vm="other". */
  maxVms: number;
  /** A VM gone (or never named and silent) this long is dropped from the metrics. */
  goneGraceMs: number;
  /** exitscope_exits_total also by `vcpu`. */
  perVcpu: boolean;
}

export const METRICS_DEFAULTS: MetricsOptions = { maxVms: 500, goneGraceMs: 5 * 60_000, perVcpu: false };

/** One exit reason's counts in a VM series: by vCPU label ('' without --metrics-vcpu). */
export interface ReasonSeries {
  reason: string;
  isa: string;
  byVcpu: Map<string, number>;
  latency: Log2Histogram | undefined;
  /** The exposition's labels object for this series (made once: formatted once). */
  labels?: unknown;
}

/** Everything counted under one `vm` label. */
export interface VmSeries {
  /** By reasonLabels().key. */
  reasons: Map<number, ReasonSeries>;
  /** By "access,present,mmio". */
  faults: Map<string, number>;
  /** By handler index. */
  handlers: Map<number, { calls: number; latency: Log2Histogram | undefined; labels?: unknown }>;
  /** The same ReasonSeries by kvm_exit's raw (isa, exit_reason): one lookup per entry on ingest. */
  byRaw: Map<number, ReasonSeries>;
  /** The exposition's labels objects of the fault kinds, by the same keys. */
  faultLabels?: Map<string, unknown>;
}

const newSeries = (): VmSeries => ({ reasons: new Map(), faults: new Map(), handlers: new Map(), byRaw: new Map() });

export class MetricsModel {
  readonly o: MetricsOptions;
  hello: HelloMessage | undefined;
  /** By `vm` label, in the order first seen. */
  readonly series = new Map<string, VmSeries>();
  readonly vms: VmLabels;
  /** The `le` ladders of the two histogram families. */
  readonly exitSlots = new SlotRange();
  readonly handlerSlots = new SlotRange();
  lostEvents = 0;
  gaps = 0;
  snapshots = 0;
  /** The stream's latest time (ms since its start). */
  now = 0;
  ended: { complete: boolean } | undefined;

  constructor(options: Partial<MetricsOptions> = {}) {
    this.o = { ...METRICS_DEFAULTS, ...options };
    this.vms = new VmLabels({ maxVms: this.o.maxVms, graceMs: this.o.goneGraceMs, onLabelDropped: (label) => this.series.delete(label) });
  }

  apply(m: Message): void {
    if (m.type !== 'hello' && m.t > this.now) this.now = m.t;
    switch (m.type) {
      case 'hello':
        this.hello = m;
        return;
      case 'snapshot':
        this.addSnapshot(m);
        this.snapshots++;
        this.vms.expire(this.now);
        return;
      case 'vm':
        this.vms.apply(m);
        return;
      case 'lost':
        this.lostEvents += m.events;
        return;
      case 'gap':
        this.gaps++;
        return;
      case 'end':
        this.ended = { complete: m.complete };
        return;
      case 'error':
      case 'exit':
        return;
    }
  }

  private seriesOf(label: string): VmSeries {
    let s = this.series.get(label);
    if (!s) this.series.set(label, (s = newSeries()));
    return s;
  }

  private reasonOf(s: VmSeries, isa: number, raw: number): ReasonSeries {
    const rawKey = isa * 2 ** 32 + raw;
    let r = s.byRaw.get(rawKey);
    if (r) return r;
    const l = reasonLabels(isa, raw);
    r = s.reasons.get(l.key);
    if (!r) s.reasons.set(l.key, (r = { reason: l.reason, isa: l.isa, byVcpu: new Map(), latency: undefined }));
    s.byRaw.set(rawKey, r);
    return r;
  }

  private addSnapshot(snap: SnapshotMessage): void {
    const t = snap.t;
    for (const e of snap.exits) {
      const vm = this.vms.memberOf(e.pid, t);
      const r = this.reasonOf(this.seriesOf(vm.label), e.isa, e.reason);
      const vcpu = this.o.perVcpu ? vcpuLabel(vm.vcpus, e.tid) : '';
      r.byVcpu.set(vcpu, (r.byVcpu.get(vcpu) ?? 0) + e.n);
    }
    for (const e of snap.exitNs) {
      const r = this.reasonOf(this.seriesOf(this.vms.memberOf(e.pid, t).label), e.isa, e.reason);
      r.latency ??= new Log2Histogram();
      for (const [lo, n] of e.b) this.exitSlots.see(r.latency.add(lo, n));
    }
    const isa = faultIsa(this.hello?.vendor);
    for (const f of snap.faults) {
      const s = this.seriesOf(this.vms.memberOf(f.pid, t).label);
      const l = faultLabels(isa, f.code, this.hello?.tdp);
      const k = `${l.access},${l.present},${l.mmio}`;
      s.faults.set(k, (s.faults.get(k) ?? 0) + f.n);
    }
    for (const h of snap.handlers) {
      const s = this.seriesOf(this.vms.memberOf(h.pid, t).label);
      let e = s.handlers.get(h.h);
      if (!e) s.handlers.set(h.h, (e = { calls: 0, latency: undefined }));
      e.calls += h.n;
      if (h.b.length) {
        e.latency ??= new Log2Histogram();
        for (const [lo, n] of h.b) this.handlerSlots.see(e.latency.add(lo, n));
      }
    }
  }

  handlerName(h: number): string {
    return handlerLabel(this.hello, h);
  }
}
