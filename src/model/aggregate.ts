/**
 * The model every view reads: it applies the message stream and keeps totals
 * since start plus a bounded ring of recent snapshots for rolling windows
 * (1 s, 10 s, 60 s). No I/O here; memory is bounded by the number of keys
 * (VMs x vCPUs x reasons), never by time.
 */
import type { HelloMessage, Message, SnapshotMessage } from '../protocol/messages.js';
import { ExitCounts } from './exit-counts.js';
import { packSnapshot, type RingSnapshot } from './packed-snapshot.js';

export { ExitCounts, exitKey } from './exit-counts.js';
export type { RingSnapshot } from './packed-snapshot.js';

export interface VmInfo {
  pid: number;
  name: string;
  source: string;
  vcpus: Record<string, number>;
  gone: boolean;
}

/**
 * Counts and histograms summed over some snapshots. Keys are comma-joined numbers; the exit counts
 * (one per VM x thread x reason: the many) are an ExitCounts, a Map of those keys held compactly.
 */
export interface Totals {
  exits: ExitCounts; // pid,tid,isa,reason
  exitNs: Map<string, Map<number, number>>; // pid,isa,reason -> low -> count
  faults: Map<string, number>; // pid,code
  regions: Map<string, number>; // pid,region
  handlerCalls: Map<string, number>; // pid,h
  handlerNs: Map<string, Map<number, number>>; // pid,h -> low -> count
  ms: number;
}

/** Window lengths kept up to date at once (the views ask for one to three). */
const MAX_WINDOWS = 4;
/** Gaps and errors kept (the newest): a collector restarting all week must not grow without bound. */
export const MAX_NOTICES = 1000;
/**
 * Gone VMs kept by name in the totals since start (the newest that went). A CI farm makes thousands
 * a day: beyond twice this many, the oldest are folded into one entry (FOLDED_PID) whose counts are
 * their sums, so every total stays exact while memory stays bounded by the live VMs plus these.
 */
export const MAX_GONE_VMS = 1000;
/** The pid of the entry that holds the folded VMs' counts (no VM process has pid 0). */
export const FOLDED_PID = 0;
/** The folded entry's name: how many VMs it holds (views show it; a late client reads it back). */
export const foldedName = (vms: number): string => `${vms} earlier VMs`;
/** The count in a folded entry's name (0 if it is not one). */
export function foldedCount(name: string): number {
  const n = /^(\d+) earlier VMs$/.exec(name);
  return n ? Number(n[1]) : 0;
}

export function emptyTotals(): Totals {
  return { exits: new ExitCounts(), exitNs: new Map(), faults: new Map(), regions: new Map(), handlerCalls: new Map(), handlerNs: new Map(), ms: 0 };
}

/** The read-only view of Totals (windows are kept up to date in place: readers must not change them). */
export interface ReadonlyTotals {
  readonly exits: ReadonlyMap<string, number> & Pick<ExitCounts, 'forEachExit' | 'getOf'>;
  readonly exitNs: ReadonlyMap<string, ReadonlyMap<number, number>>;
  readonly faults: ReadonlyMap<string, number>;
  readonly regions: ReadonlyMap<string, number>;
  readonly handlerCalls: ReadonlyMap<string, number>;
  readonly handlerNs: ReadonlyMap<string, ReadonlyMap<number, number>>;
  readonly ms: number;
}

type CountKind = 'faults' | 'regions' | 'handlerCalls';
type HistKind = 'exitNs' | 'handlerNs';

/**
 * Every entry of a snapshot other than exit counts under its Totals key: the one place the keys
 * are made. (Exit counts are many and keyed by their numbers: see ExitCounts.)
 */
function forEachEntry(s: SnapshotMessage, count: (kind: CountKind, k: string, n: number) => void, hist: (kind: HistKind, k: string, b: readonly (readonly [number, number])[]) => void): void {
  for (const e of s.exitNs) hist('exitNs', `${e.pid},${e.isa},${e.reason}`, e.b);
  for (const f of s.faults) count('faults', `${f.pid},${f.code}`, f.n);
  for (const r of s.regions) count('regions', `${r.pid},${r.region}`, r.n);
  for (const h of s.handlers) {
    count('handlerCalls', `${h.pid},${h.h}`, h.n);
    hist('handlerNs', `${h.pid},${h.h}`, h.b);
  }
}

function addBuckets(h: Map<number, number>, b: readonly (readonly [number, number])[]): void {
  for (const [low, n] of b) h.set(low, (h.get(low) ?? 0) + n);
}

/**
 * forEachEntry for a ring snapshot (packed-snapshot.ts): the same kinds, keys and order; a
 * histogram's buckets are pairs[from..to) (low, count, low, count...).
 */
function forEachRingEntry(s: RingSnapshot, count: (kind: CountKind, k: string, n: number) => void, hist: (kind: HistKind, k: string, pairs: Float64Array, from: number, to: number) => void): void {
  s.forEachLatency((pid, isa, reason, pairs, from, to) => hist('exitNs', `${pid},${isa},${reason}`, pairs, from, to));
  for (const f of s.faults) count('faults', `${f.pid},${f.code}`, f.n);
  for (const r of s.regions) count('regions', `${r.pid},${r.region}`, r.n);
  s.forEachHandler((pid, h, n, pairs, from, to) => {
    count('handlerCalls', `${pid},${h}`, n);
    hist('handlerNs', `${pid},${h}`, pairs, from, to);
  });
}

export function addSnapshot(t: Totals, s: SnapshotMessage): void {
  for (const e of s.exits) t.exits.add(e.pid, e.tid, e.isa, e.reason, e.n);
  forEachEntry(
    s,
    (kind, k, n) => t[kind].set(k, (t[kind].get(k) ?? 0) + n),
    (kind, k, b) => {
      let h = t[kind].get(k);
      if (!h) t[kind].set(k, (h = new Map()));
      addBuckets(h, b);
    },
  );
  t.ms += s.ms;
}

/**
 * The sum of a run of consecutive snapshots, kept up to date by adding the newest and
 * subtracting the oldest: O(entries of the snapshots that enter or leave), whatever the window.
 * A key is present while some snapshot in the run has it (as a sum from scratch would have it);
 * histogram buckets that drop to 0 are removed (summaries skip empty buckets anyway).
 */
class RunningSum {
  readonly totals: Totals = emptyTotals();
  /** How many snapshots in the run have each key, per kind. */
  private readonly holders = { exits: new ExitCounts(), faults: new Map<string, number>(), regions: new Map<string, number>(), handlerCalls: new Map<string, number>(), exitNs: new Map<string, number>(), handlerNs: new Map<string, number>() };
  /** Absolute index (Aggregate.snapshots numbering) of the oldest snapshot in the run; next one to add. */
  from = 0;
  to = 0;

  constructor(readonly ms: number) {}

  add(s: RingSnapshot): void {
    const t = this.totals;
    const hold = (kind: CountKind | HistKind, k: string): void => void this.holders[kind].set(k, (this.holders[kind].get(k) ?? 0) + 1);
    const holders = this.holders.exits;
    s.forEachExit((n, pid, tid, isa, reason) => {
      t.exits.add(pid, tid, isa, reason, n);
      holders.add(pid, tid, isa, reason, 1);
    });
    forEachRingEntry(
      s,
      (kind, k, n) => {
        t[kind].set(k, (t[kind].get(k) ?? 0) + n);
        hold(kind, k);
      },
      (kind, k, pairs, from, to) => {
        let h = t[kind].get(k);
        if (!h) t[kind].set(k, (h = new Map()));
        for (let i = from; i < to; i += 2) {
          const low = pairs[i] as number;
          h.set(low, (h.get(low) ?? 0) + (pairs[i + 1] as number));
        }
        hold(kind, k);
      },
    );
    t.ms += s.ms;
    this.to++;
  }

  /** Takes the oldest snapshot of the run out: the exact inverse of add (counts are integers). */
  removeOldest(s: RingSnapshot): void {
    const t = this.totals;
    const release = (kind: CountKind | HistKind, k: string): boolean => {
      const left = (this.holders[kind].get(k) ?? 1) - 1;
      if (left > 0) this.holders[kind].set(k, left);
      else this.holders[kind].delete(k);
      return left > 0;
    };
    const holders = this.holders.exits;
    s.forEachExit((n, pid, tid, isa, reason) => {
      const left = (holders.getOf(pid, tid, isa, reason) ?? 1) - 1;
      if (left > 0) {
        holders.setOf(pid, tid, isa, reason, left);
        t.exits.add(pid, tid, isa, reason, -n);
      } else {
        holders.deleteOf(pid, tid, isa, reason);
        t.exits.deleteOf(pid, tid, isa, reason);
      }
    });
    forEachRingEntry(
      s,
      (kind, k, n) => {
        if (release(kind, k)) t[kind].set(k, (t[kind].get(k) ?? 0) - n);
        else t[kind].delete(k);
      },
      (kind, k, pairs, from, to) => {
        const h = t[kind].get(k);
        if (!release(kind, k) || !h) {
          t[kind].delete(k);
          return;
        }
        for (let i = from; i < to; i += 2) {
          const low = pairs[i] as number;
          const left = (h.get(low) ?? 0) - (pairs[i + 1] as number);
          if (left > 0) h.set(low, left);
          else h.delete(low);
        }
      },
    );
    t.ms -= s.ms;
    this.from++;
  }
}

function copyTotals(from: Totals, to: Totals): void {
  from.exits.forEachExit((n, pid, tid, isa, reason) => to.exits.setOf(pid, tid, isa, reason, n));
  for (const [k, h] of from.exitNs) to.exitNs.set(k, new Map(h));
  for (const [k, n] of from.faults) to.faults.set(k, n);
  for (const [k, n] of from.regions) to.regions.set(k, n);
  for (const [k, n] of from.handlerCalls) to.handlerCalls.set(k, n);
  for (const [k, h] of from.handlerNs) to.handlerNs.set(k, new Map(h));
  to.ms = from.ms;
}

/** Moves the entries of these pids to FOLDED_PID (tid 0 for exits), summed. FOLDED_PID itself stays where it is. */
export function foldTotals(t: Totals, pids: ReadonlySet<number>): void {
  const moved: [number, number, number, number, number][] = [];
  t.exits.forEachExit((n, pid, tid, isa, reason) => {
    if (pid !== FOLDED_PID && pids.has(pid)) moved.push([n, pid, tid, isa, reason]);
  });
  for (const [n, pid, tid, isa, reason] of moved) {
    t.exits.deleteOf(pid, tid, isa, reason);
    t.exits.add(FOLDED_PID, 0, isa, reason, n);
  }
  const pidOf = (k: string): number => Number(k.slice(0, k.indexOf(',')));
  const rest = (k: string): string => k.slice(k.indexOf(','));
  // a folded pid's entries only: FOLDED_PID's own would be read from the copy, not as summed so far
  const folds = (k: string): boolean => {
    const pid = pidOf(k);
    return pid !== FOLDED_PID && pids.has(pid);
  };
  for (const m of [t.faults, t.regions, t.handlerCalls]) {
    for (const [k, n] of [...m]) {
      if (!folds(k)) continue;
      m.delete(k);
      const to = `${FOLDED_PID}${rest(k)}`;
      m.set(to, (m.get(to) ?? 0) + n);
    }
  }
  for (const m of [t.exitNs, t.handlerNs]) {
    for (const [k, b] of [...m]) {
      if (!folds(k)) continue;
      m.delete(k);
      const to = `${FOLDED_PID}${rest(k)}`;
      let into = m.get(to);
      if (!into) m.set(to, (into = new Map()));
      for (const [low, n] of b) into.set(low, (into.get(low) ?? 0) + n);
    }
  }
}

/** Only the entries of one VM process (every key starts with the pid). */
export function totalsOfPid(t: ReadonlyTotals, pid: number): Totals {
  const out = emptyTotals();
  const mine = (k: string): boolean => k.startsWith(`${pid},`);
  t.exits.forEachExit((n, p, tid, isa, reason) => {
    if (p === pid) out.exits.setOf(p, tid, isa, reason, n);
  });
  for (const [k, h] of t.exitNs) if (mine(k)) out.exitNs.set(k, new Map(h));
  for (const [k, n] of t.faults) if (mine(k)) out.faults.set(k, n);
  for (const [k, n] of t.regions) if (mine(k)) out.regions.set(k, n);
  for (const [k, n] of t.handlerCalls) if (mine(k)) out.handlerCalls.set(k, n);
  for (const [k, h] of t.handlerNs) if (mine(k)) out.handlerNs.set(k, new Map(h));
  out.ms = t.ms;
  return out;
}

export class Aggregate {
  hello: HelloMessage | undefined;
  readonly vms = new Map<number, VmInfo>();
  readonly total: Totals = emptyTotals();
  /**
   * Recent snapshots, newest last, enough to cover the longest window; recent[0] is snapshot number
   * `firstRecent`. Kept packed (packed-snapshot.ts): most of the model's memory on a big host.
   */
  private readonly recent: RingSnapshot[] = [];
  private firstRecent = 0;
  /** Windows asked for lately (the views use one to three lengths), each kept up to date as snapshots come. */
  private readonly windows: RunningSum[] = [];
  lost = 0;
  readonly gaps: { t: number; reason: string; resumed: boolean }[] = [];
  readonly errors: { t: number; code: string; message: string }[] = [];
  ended: { t: number; complete: boolean } | undefined;
  snapshots = 0;
  lastT = 0;

  /** Gone VMs not folded yet, oldest first. */
  private readonly goneOrder = new Set<number>();
  /** VMs folded into FOLDED_PID so far. */
  foldedVms = 0;

  constructor(
    readonly longestWindowMs = 60_000,
    readonly maxGoneVms = MAX_GONE_VMS,
  ) {}

  apply(m: Message): void {
    this.lastT = Math.max(this.lastT, m.type === 'hello' ? 0 : m.t);
    switch (m.type) {
      case 'hello':
        this.hello = m;
        return;
      case 'snapshot': {
        addSnapshot(this.total, m);
        this.snapshots++;
        // longestWindowMs 0: totals only (a report), no history kept at all
        const keep = this.longestWindowMs > 0 ? Math.ceil(this.longestWindowMs / (this.hello?.intervalMs ?? 1000)) + 1 : 0;
        if (keep === 0) {
          // nothing kept (and so nothing in any window): no packing either
          for (const w of this.windows) if (w.from === this.firstRecent) w.from = w.to = this.firstRecent + 1;
          this.firstRecent++;
          return;
        }
        this.recent.push(packSnapshot(m));
        while (this.recent.length > keep) {
          const gone = this.recent.shift() as RingSnapshot;
          // a window still holding it lets go of it (it covers at most what the ring holds)
          for (const w of this.windows) {
            if (w.from !== this.firstRecent) continue;
            if (w.to > w.from) w.removeOldest(gone);
            else w.from = w.to = this.firstRecent + 1; // not summed yet (nobody asked since): skip it
          }
          this.firstRecent++;
        }
        return;
      }
      case 'vm': {
        if (m.pid === FOLDED_PID) {
          // not a VM process: the folded entry of a server that folded gone VMs before we joined
          // (src/server/hub.ts), "N earlier VMs": ours from now on, N counted on by our own folds
          this.foldedVms = Math.max(this.foldedVms, foldedCount(m.name));
          this.vms.set(FOLDED_PID, { pid: FOLDED_PID, name: foldedName(this.foldedVms), source: 'folded', vcpus: {}, gone: true });
          return;
        }
        // a pid that comes back is a new VM (or the same one updated): not one to fold
        this.goneOrder.delete(m.pid);
        if (m.event === 'gone') this.goneOrder.add(m.pid);
        const prev = this.vms.get(m.pid);
        this.vms.set(m.pid, {
          pid: m.pid,
          name: m.event === 'gone' && prev ? prev.name : m.name,
          source: m.event === 'gone' && prev ? prev.source : m.source,
          vcpus: { ...(prev?.vcpus ?? {}), ...m.vcpus },
          gone: m.event === 'gone',
        });
        // in batches (one pass over the totals folds many): amortised, whatever the rate of VMs
        if (this.goneOrder.size > 2 * this.maxGoneVms) this.foldGone(this.goneOrder.size - this.maxGoneVms);
        return;
      }
      case 'lost':
        this.lost += m.events;
        return;
      case 'gap':
        this.gaps.push({ t: m.t, reason: m.reason, resumed: m.resumed });
        if (this.gaps.length > MAX_NOTICES) this.gaps.shift(); // bounded, like everything here
        return;
      case 'error':
        this.errors.push({ t: m.t, code: m.code, message: m.message });
        if (this.errors.length > MAX_NOTICES) this.errors.shift();
        return;
      case 'end':
        this.ended = { t: m.t, complete: m.complete };
        return;
      case 'exit':
        return;
    }
  }

  /**
   * Folds the `n` VMs that went first into FOLDED_PID: their counts move there (per reason, fault
   * code, region and handler; per-vCPU detail goes), their names go. Totals by reason stay exact.
   */
  private foldGone(n: number): void {
    const fold = new Set<number>();
    for (const pid of this.goneOrder) {
      if (fold.size >= n) break;
      fold.add(pid);
    }
    for (const pid of fold) {
      this.goneOrder.delete(pid);
      this.vms.delete(pid);
    }
    this.foldedVms += fold.size;
    foldTotals(this.total, fold);
    this.vms.set(FOLDED_PID, { pid: FOLDED_PID, name: foldedName(this.foldedVms), source: 'folded', vcpus: {}, gone: true });
  }

  /**
   * Totals over the most recent snapshots covering `ms` (at least one snapshot): the fewest newest
   * snapshots whose lengths add up to `ms`, or all of the ring if they do not. Kept as a running sum
   * per length asked for, so that a view asking every interval costs the entries of the snapshots
   * that came and went, not those of the whole window. Read-only: it changes as snapshots come.
   */
  window(ms: number): ReadonlyTotals {
    let w = this.windows.find((x) => x.ms === ms);
    if (!w) {
      w = new RunningSum(ms);
      w.from = w.to = this.firstRecent;
      this.windows.push(w);
      if (this.windows.length > MAX_WINDOWS) this.windows.shift();
    }
    const newest = this.firstRecent + this.recent.length;
    for (; w.to < newest; ) w.add(this.recent[w.to - this.firstRecent] as RingSnapshot);
    // the oldest goes while the rest still covers the window (the newest always stays)
    while (w.to - w.from > 1) {
      const oldest = this.recent[w.from - this.firstRecent] as RingSnapshot;
      const rest = w.totals.ms - oldest.ms;
      if (!(rest >= ms && rest > 0)) break;
      w.removeOldest(oldest);
    }
    return w.totals;
  }

  /** The recent snapshots (newest last; at most the longest window): sparklines read these. */
  history(): readonly RingSnapshot[] {
    return this.recent;
  }

  /** A frozen copy (the dashboard's pause): later messages change this one only. */
  clone(): Aggregate {
    const c = new Aggregate(this.longestWindowMs);
    c.hello = this.hello;
    for (const [pid, vm] of this.vms) c.vms.set(pid, { ...vm, vcpus: { ...vm.vcpus } });
    copyTotals(this.total, c.total);
    c.recent.push(...this.recent); // ring snapshots are never mutated
    c.firstRecent = this.firstRecent; // its windows start afresh when asked for
    for (const pid of this.goneOrder) c.goneOrder.add(pid);
    c.foldedVms = this.foldedVms;
    c.lost = this.lost;
    c.gaps.push(...this.gaps);
    c.errors.push(...this.errors);
    c.ended = this.ended;
    c.snapshots = this.snapshots;
    c.lastT = this.lastT;
    return c;
  }

  vmName(pid: number): string {
    return this.vms.get(pid)?.name ?? `pid ${pid}`;
  }

  vcpuOf(pid: number, tid: number): number | undefined {
    return this.vms.get(pid)?.vcpus[String(tid)];
  }
}
