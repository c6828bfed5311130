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
import { type VmMember, VmLabels } from './vm-labels.js';

export interface MetricsOptions {
  /** At most this many VM processes have their own `vm` label at once; the rest are vm="other". */
  maxVms: number;
  /** A VM gone (or never named and silent) this long is dropped from the metrics. */
  goneGraceMs: number;
  /** exitscope_exits_total also by `vcpu`. */
  perVcpu: boolean;
}

export const METRICS_DEFAULTS: MetricsOptions = { maxVms: 500, goneGraceMs: 5 * 60_000, perVcpu: false };

/**
 * What a scrape needs to know of a series besides its values: `changes` counts the stream entries
 * added to it (the exposition re-renders a series only when it moved since the last scrape), and
 * `rendered` is where the exposition keeps what it knows of the series' text (model.ts never reads it).
 */
export interface Rendered {
  changes: number;
  labels?: unknown;
  rendered?: unknown;
}

/** One exit reason's counts in a VM series: by vCPU label ('' without --metrics-vcpu). */
export interface ReasonSeries extends Rendered {
  reason: string;
  isa: string;
  byVcpu: Map<string, number>;
  latency: Log2Histogram | undefined;
}

/** One page-fault handler's calls and time in a VM series. */
export interface HandlerSeries extends Rendered {
  calls: number;
  latency: Log2Histogram | undefined;
}

/** Everything counted under one `vm` label. */
export interface VmSeries {
  /** By reasonLabels().key. */
  reasons: Map<number, ReasonSeries>;
  /** By "access,present,mmio". */
  faults: Map<string, number>;
  /** Stream entries added to `faults`, and the exposition's text of them. */
  faultKinds: Rendered;
  /** By handler index. */
  handlers: Map<number, HandlerSeries>;
  /** The same ReasonSeries by kvm_exit's raw (isa, exit_reason) (rawKey()): one lookup per entry on ingest. */
  byRaw: Map<number, ReasonSeries>;
  /** The exposition's labels objects of the fault kinds, by the same keys. */
  faultLabels?: Map<string, unknown>;
}

const newSeries = (): VmSeries => ({ reasons: new Map(), faults: new Map(), faultKinds: { changes: 0, rendered: undefined }, handlers: new Map(), byRaw: new Map(), faultLabels: undefined });

/**
 * kvm_exit's (isa, exit_reason) as one Map key. Exit reasons are small numbers (SVM's codes up to
 * 0x403, VMX's basic reasons < 100): reason * 4 + isa is then a small integer, which a Map hashes
 * without boxing; a reason with high bits (VMX's failed-entry bit 31, SVM's -1) takes the wide key
 * isa * 2^32 + reason, >= 2^32, which no small key reaches.
 */
function rawKey(isa: number, raw: number): number {
  return raw < 2 ** 26 && isa < 4 ? raw * 4 + isa : isa * 2 ** 32 + raw;
}

/** A snapshot's [lo, n] buckets into a histogram and its family's ladder (indexed: no iterator per pair). */
function addBuckets(h: Log2Histogram, buckets: readonly (readonly [number, number])[], slots: SlotRange): void {
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i] as readonly [number, number];
    slots.see(h.add(b[0], b[1]));
  }
}

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
  /** Counts the messages applied: the exposition's text is a function of the model at a version (exposition.ts serves it again while this stays). */
  version = 0;

  constructor(options: Partial<MetricsOptions> = {}) {
    this.o = { ...METRICS_DEFAULTS, ...options };
    this.vms = new VmLabels({ maxVms: this.o.maxVms, graceMs: this.o.goneGraceMs, onLabelDropped: (label) => this.series.delete(label) });
  }

  apply(m: Message): void {
    this.version++;
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
    const key = rawKey(isa, raw);
    let r = s.byRaw.get(key);
    if (r) return r;
    const l = reasonLabels(isa, raw);
    r = s.reasons.get(l.key);
    if (!r) s.reasons.set(l.key, (r = { reason: l.reason, isa: l.isa, byVcpu: new Map(), latency: undefined, changes: 0, labels: undefined, rendered: undefined }));
    s.byRaw.set(key, r);
    return r;
  }

  /**
   * The series of the entry's pid: the member and series of the previous entry's pid when it is the
   * same (entries of one VM often come together, and within a snapshot a pid's member and series
   * stay the same: only vm messages and expiry, never a snapshot, drop them). A method with its
   * memory in fields, not a closure made per snapshot (V8 optimized each one anew).
   */
  private atPid = -1;
  private atMember: VmMember | undefined;
  private atSeries: VmSeries | undefined;
  private seriesAt(p: number, t: number): VmSeries {
    if (p !== this.atPid || !this.atSeries) {
      this.atPid = p;
      this.atMember = this.vms.memberOf(p, t);
      this.atSeries = this.seriesOf(this.atMember.label);
    }
    return this.atSeries;
  }

  private addSnapshot(snap: SnapshotMessage): void {
    const t = snap.t;
    this.atPid = -1;
    this.atSeries = undefined;
    const perVcpu = this.o.perVcpu;
    for (const e of snap.exits) {
      const r = this.reasonOf(this.seriesAt(e.pid, t), e.isa, e.reason);
      const vcpu = perVcpu ? vcpuLabel((this.atMember as VmMember).vcpus, e.tid) : '';
      r.byVcpu.set(vcpu, (r.byVcpu.get(vcpu) ?? 0) + e.n);
      r.changes++;
    }
    for (const e of snap.exitNs) {
      const r = this.reasonOf(this.seriesAt(e.pid, t), e.isa, e.reason);
      addBuckets((r.latency ??= new Log2Histogram()), e.b, this.exitSlots);
      r.changes++;
    }
    const isa = faultIsa(this.hello?.vendor);
    for (const f of snap.faults) {
      const vs = this.seriesAt(f.pid, t);
      const l = faultLabels(isa, f.code, this.hello?.tdp);
      const k = `${l.access},${l.present},${l.mmio}`;
      vs.faults.set(k, (vs.faults.get(k) ?? 0) + f.n);
      vs.faultKinds.changes++;
    }
    for (const h of snap.handlers) {
      const vs = this.seriesAt(h.pid, t);
      let e = vs.handlers.get(h.h);
      if (!e) vs.handlers.set(h.h, (e = { calls: 0, latency: undefined, changes: 0, labels: undefined, rendered: undefined }));
      e.calls += h.n;
      if (h.b.length) {
        addBuckets((e.latency ??= new Log2Histogram()), h.b, this.handlerSlots);
      }
      e.changes++;
    }
    // the series is not kept past the snapshot (a vm message may drop it)
    this.atMember = this.atSeries = undefined;
  }

  handlerName(h: number): string {
    return handlerLabel(this.hello, h);
  }
}
