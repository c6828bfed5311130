/**
 * The model every view reads: it applies the message stream and keeps totals
 * since start plus a bounded ring of recent snapshots for rolling windows
 * (1 s, 10 s, 60 s). No I/O here; memory is bounded by the number of keys
 * (VMs x vCPUs x reasons), never by time.
 */
import type { HelloMessage, Message, SnapshotMessage } from '../protocol/messages.js';

export interface VmInfo {
  pid: number;
  name: string;
  source: string;
  vcpus: Record<string, number>;
  gone: boolean;
}

/** Counts and histograms summed over some snapshots. Keys are comma-joined numbers. */
export interface Totals {
  exits: Map<string, number>; // pid,tid,isa,reason
  exitNs: Map<string, Map<number, number>>; // pid,isa,reason -> low -> count
  faults: Map<string, number>; // pid,code
  regions: Map<string, number>; // pid,region
  handlerCalls: Map<string, number>; // pid,h
  handlerNs: Map<string, Map<number, number>>; // pid,h -> low -> count
  ms: number;
}

/** Gaps and errors kept (the newest): a collector restarting all week must not grow without bound. */
const MAX_NOTICES = 1000;

export function emptyTotals(): Totals {
  return { exits: new Map(), exitNs: new Map(), faults: new Map(), regions: new Map(), handlerCalls: new Map(), handlerNs: new Map(), ms: 0 };
}

function add(m: Map<string, number>, k: string, n: number): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

function addBuckets(m: Map<string, Map<number, number>>, k: string, b: [number, number][]): void {
  let h = m.get(k);
  if (!h) m.set(k, (h = new Map()));
  for (const [low, n] of b) h.set(low, (h.get(low) ?? 0) + n);
}

export function addSnapshot(t: Totals, s: SnapshotMessage): void {
  for (const e of s.exits) add(t.exits, `${e.pid},${e.tid},${e.isa},${e.reason}`, e.n);
  for (const e of s.exitNs) addBuckets(t.exitNs, `${e.pid},${e.isa},${e.reason}`, e.b);
  for (const f of s.faults) add(t.faults, `${f.pid},${f.code}`, f.n);
  for (const r of s.regions) add(t.regions, `${r.pid},${r.region}`, r.n);
  for (const h of s.handlers) {
    add(t.handlerCalls, `${h.pid},${h.h}`, h.n);
    addBuckets(t.handlerNs, `${h.pid},${h.h}`, h.b);
  }
  t.ms += s.ms;
}

function copyTotals(from: Totals, to: Totals): void {
  for (const [k, n] of from.exits) to.exits.set(k, n);
  for (const [k, h] of from.exitNs) to.exitNs.set(k, new Map(h));
  for (const [k, n] of from.faults) to.faults.set(k, n);
  for (const [k, n] of from.regions) to.regions.set(k, n);
  for (const [k, n] of from.handlerCalls) to.handlerCalls.set(k, n);
  for (const [k, h] of from.handlerNs) to.handlerNs.set(k, new Map(h));
  to.ms = from.ms;
}

/** Only the entries of one VM process (every key starts with the pid). */
export function totalsOfPid(t: Totals, pid: number): Totals {
  const out = emptyTotals();
  const mine = (k: string): boolean => k.startsWith(`${pid},`);
  for (const [k, n] of t.exits) if (mine(k)) out.exits.set(k, n);
  for (const [k, h] of t.exitNs) if (mine(k)) out.exitNs.set(k, h);
  for (const [k, n] of t.faults) if (mine(k)) out.faults.set(k, n);
  for (const [k, n] of t.regions) if (mine(k)) out.regions.set(k, n);
  for (const [k, n] of t.handlerCalls) if (mine(k)) out.handlerCalls.set(k, n);
  for (const [k, h] of t.handlerNs) if (mine(k)) out.handlerNs.set(k, h);
  out.ms = t.ms;
  return out;
}

export class Aggregate {
  hello: HelloMessage | undefined;
  readonly vms = new Map<number, VmInfo>();
  readonly total: Totals = emptyTotals();
  /** Recent snapshots, newest last, enough to cover the longest window. */
  private readonly recent: SnapshotMessage[] = [];
  lost = 0;
  readonly gaps: { t: number; reason: string; resumed: boolean }[] = [];
  readonly errors: { t: number; code: string; message: string }[] = [];
  ended: { t: number; complete: boolean } | undefined;
  snapshots = 0;
  lastT = 0;

  constructor(readonly longestWindowMs = 60_000) {}

  apply(m: Message): void {
    this.lastT = Math.max(this.lastT, m.type === 'hello' ? 0 : m.t);
    switch (m.type) {
      case 'hello':
        this.hello = m;
        return;
      case 'snapshot': {
        addSnapshot(this.total, m);
        this.snapshots++;
        this.recent.push(m);
        const keep = Math.ceil(this.longestWindowMs / (this.hello?.intervalMs ?? 1000)) + 1;
        while (this.recent.length > keep) this.recent.shift();
        return;
      }
      case 'vm': {
        const prev = this.vms.get(m.pid);
        this.vms.set(m.pid, {
          pid: m.pid,
          name: m.event === 'gone' && prev ? prev.name : m.name,
          source: m.event === 'gone' && prev ? prev.source : m.source,
          vcpus: { ...(prev?.vcpus ?? {}), ...m.vcpus },
          gone: m.event === 'gone',
        });
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

  /** Totals over the most recent snapshots covering `ms` (at least one snapshot). */
  window(ms: number): Totals {
    const t = emptyTotals();
    for (let i = this.recent.length - 1; i >= 0; i--) {
      const s = this.recent[i] as SnapshotMessage;
      if (t.ms >= ms && t.ms > 0) break;
      addSnapshot(t, s);
    }
    return t;
  }

  /** The recent snapshots (newest last; at most the longest window): sparklines read these. */
  history(): readonly SnapshotMessage[] {
    return this.recent;
  }

  /** A frozen copy (the dashboard's pause): later messages change this one only. */
  clone(): Aggregate {
    const c = new Aggregate(this.longestWindowMs);
    c.hello = this.hello;
    for (const [pid, vm] of this.vms) c.vms.set(pid, { ...vm, vcpus: { ...vm.vcpus } });
    copyTotals(this.total, c.total);
    c.recent.push(...this.recent); // snapshot messages are never mutated
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
