/**
 * What a server needs to serve /metrics and /healthz: the model fed from the stream, the
 * endpoint's body, and whether collection is healthy. One per process (serve, top --serve,
 * exporter); fed every message of the stream, in order.
 */
import type { Message } from '../protocol/messages.js';
import { type MetricsEndpoint, metricsEndpoint } from './exposition.js';
import { MetricsModel, type MetricsOptions } from './model.js';

export interface Health {
  ok: boolean;
  /** One line for a person (and the probe's log): what is wrong, or what is counted. */
  detail: string;
}

export class MetricsService {
  readonly model: MetricsModel;
  readonly endpoint: MetricsEndpoint;
  /** Wall-clock time (ms) of the latest snapshot: collection that stalls is unhealthy. */
  private lastSnapshotAt: number | undefined;

  constructor(
    options: Partial<MetricsOptions> = {},
    private readonly now: () => number = Date.now,
    processMetrics = true,
  ) {
    this.model = new MetricsModel(options);
    this.endpoint = metricsEndpoint(this.model, { processMetrics });
  }

  apply(m: Message): void {
    this.model.apply(m);
    if (m.type === 'snapshot') this.lastSnapshotAt = this.now();
  }

  /**
   * Healthy when bpftrace is attached and counting: the hello said kvm_exit is attached, a
   * snapshot came within three intervals (at least 5 s: bpftrace's first print takes a while),
   * and the stream has not ended. Otherwise the reason.
   */
  health(): Health {
    const m = this.model;
    const hello = m.hello;
    if (!hello) return { ok: false, detail: 'starting: bpftrace is not attached yet' };
    const exits = hello.probes.find((p) => p.probe === 'tracepoint:kvm:kvm_exit');
    if (!exits?.attached) return { ok: false, detail: `the kvm_exit probe is not attached${exits ? `: ${exits.detail}` : ''}` };
    if (m.ended) return { ok: false, detail: `collection ended${m.ended.complete ? '' : ' (bpftrace gave up)'}` };
    if (this.lastSnapshotAt === undefined) return { ok: false, detail: 'attached, no counts yet (bpftrace prints its first interval)' };
    const staleMs = Math.max(5000, 3 * hello.intervalMs);
    const age = this.now() - this.lastSnapshotAt;
    if (age > staleMs) return { ok: false, detail: `no counts for ${Math.round(age / 1000)} s (bpftrace stalled or restarting)` };
    return { ok: true, detail: `ok: counting, ${m.vms.size} VM processes, ${m.lostEvents} events lost` };
  }
}
