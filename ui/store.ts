/**
 * The dashboard's store: the one model (Aggregate) fed by the message stream,
 * plus pause (a frozen copy is shown while collection goes on), reset, and the
 * collector's own CPU and memory. Views subscribe through useDashboard(); the
 * store tells them of snapshots at most `maxFps` times a second, and of other
 * changes as often, whatever the stream does (at most 2 x maxFps frames).
 */
import { Aggregate } from '../src/model/aggregate.js';
import type { Message } from '../src/protocol/messages.js';
import type { FlameSummary } from '../src/flame/summary.js';
import type { RemoteState } from '../src/remote/remote-stream.js';
import type { SelfStats } from './view-model.js';

/** The flame snapshot the dashboard shows: none, one being taken, its result, or why it failed. */
export type FlameState =
  | { state: 'idle' }
  | { state: 'sampling'; phase: 'attaching' | 'sampling' | 'resolving'; elapsed: number; seconds: number }
  | { state: 'done'; summary: FlameSummary; files: string[] }
  | { state: 'failed'; message: string };

export interface StoreSnapshot {
  /** What to show: the live model, or the copy frozen at pause. */
  agg: Aggregate;
  version: number;
  paused: boolean;
  self: SelfStats | undefined;
  source: 'live' | 'replay';
  flame: FlameState;
  /** attach: the connection to the server. */
  remote: RemoteState | undefined;
}

export class DashboardStore {
  private live = new Aggregate();
  private frozen: Aggregate | undefined;
  private self: SelfStats | undefined;
  private flame: FlameState = { state: 'idle' };
  private remote: RemoteState | undefined;
  private version = 0;
  private snapshot: StoreSnapshot;
  private readonly listeners = new Set<() => void>();
  private lastNotify = Number.NEGATIVE_INFINITY;
  private lastSnapshotNotify = Number.NEGATIVE_INFINITY;
  /** A snapshot came since the last notification. */
  private snapshotPending = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly source: 'live' | 'replay',
    private readonly maxFps = 10,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.snapshot = this.make();
  }

  /** The model, always live (for the command: recording, end of stream). */
  get model(): Aggregate {
    return this.live;
  }

  apply(m: Message): void {
    this.live.apply(m);
    if (this.frozen) return;
    if (m.type === 'snapshot') this.snapshotPending = true;
    this.changed();
  }

  /**
   * Shown with the next change (a snapshot comes every interval): no redraw of its own, unless
   * `redraw` (the page: a server's figures may come after the stream's last change).
   */
  setSelf(s: SelfStats, redraw = false): void {
    this.self = s;
    if (redraw) this.changed();
  }

  /** The flame snapshot's progress or result (shown at once: it changes a few times a second at most). */
  setFlame(f: FlameState): void {
    this.flame = f;
    this.changed(true);
  }

  setRemote(r: RemoteState): void {
    this.remote = r;
    this.changed(true);
  }

  /** A new connection's catch-up follows: start from an empty model (and leave pause). */
  restart(): void {
    this.live = new Aggregate(this.live.longestWindowMs);
    this.frozen = undefined;
    this.changed(true);
  }

  get flameState(): FlameState {
    return this.flame;
  }

  get paused(): boolean {
    return this.frozen !== undefined;
  }

  /** Freezes the display; collection goes on. Resume shows everything that arrived meanwhile. */
  togglePause(): void {
    this.frozen = this.frozen ? undefined : this.live.clone();
    this.changed(true);
  }

  /** Counting starts again from zero (VM names and the hello are kept). */
  reset(): void {
    const fresh = new Aggregate(this.live.longestWindowMs);
    if (this.live.hello) fresh.apply(this.live.hello);
    for (const [pid, vm] of this.live.vms) fresh.vms.set(pid, { ...vm });
    // what happened to the stream stays known: lost events, gaps, errors, its end
    fresh.lastT = this.live.lastT;
    fresh.lost = this.live.lost;
    fresh.gaps.push(...this.live.gaps);
    fresh.errors.push(...this.live.errors);
    fresh.ended = this.live.ended;
    this.live = fresh;
    if (this.frozen) this.frozen = fresh.clone();
    this.changed(true);
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): StoreSnapshot => this.snapshot;

  private make(): StoreSnapshot {
    return { agg: this.frozen ?? this.live, version: this.version, paused: this.frozen !== undefined, self: this.self, source: this.source, flame: this.flame, remote: this.remote };
  }

  /**
   * Notifies now if the frame budget allows (or `urgent`: a key press), else once at the next slot.
   * Snapshots have a budget of their own: a VM's name or a gap drawn just before does not hold the
   * next interval's counts back (a new VM's name comes moments before its first counts), which is
   * the freshness of the screen (docs/benchmarks.md, section 10).
   */
  private changed(urgent = false): void {
    const budget = 1000 / this.maxFps;
    const now = this.now();
    const wait = this.snapshotPending ? this.lastSnapshotNotify + budget - now : this.lastNotify + budget - now;
    if (urgent || wait <= 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.notify();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.notify();
      }, wait);
      this.timer.unref?.();
    }
  }

  private notify(): void {
    this.lastNotify = this.now();
    if (this.snapshotPending) this.lastSnapshotNotify = this.lastNotify;
    this.snapshotPending = false;
    this.version++;
    this.snapshot = this.make();
    for (const l of this.listeners) l();
  }
}
