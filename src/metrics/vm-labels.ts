/**
 * Which `vm` label each VM process counts under, with cardinality bounded:
 * - a VM's label is its name as the dashboard shows it (the stream's vm message; `pid N` when the
 *   stream never named it), fixed when it is first seen: its series never jump between labels;
 * - at most `maxVms` processes have their own label at once; any more count under vm="other"
 *   (for their whole life: a series never gives counts back, so no counter ever goes down);
 * - a VM reported gone (and one never named that stopped counting) is dropped `graceMs` later:
 *   its late deltas still count, then its label's series disappear if no other process holds it
 *   ("other" stays). Time is the stream's (messages' `t`): tests and replays inject it.
 * No I/O; memory bounded by the VMs alive within the grace period.
 */
import type { VmMessage } from '../protocol/messages.js';
import { unnamedVm } from './labels.js';

export const OTHER_VM = 'other';

export interface VmMember {
  pid: number;
  /** The `vm` label its counts go to (its name, or OTHER_VM beyond the cap). */
  label: string;
  /** Has its own label (counts toward the cap; shown in exitscope_vm_info). */
  own: boolean;
  /** The latest name and source the stream gave (vm_info); `unknown` source when never named. */
  name: string;
  source: string;
  vcpus: Record<string, number>;
  named: boolean;
  gone: boolean;
  /** Stream time (ms) after which it is dropped: gone + grace, or (never named) last count + grace. */
  dropAt: number | undefined;
  /** The exposition's labels object for vm_info (made once: formatted once). */
  labels?: unknown;
}

export interface VmLabelOptions {
  maxVms: number;
  graceMs: number;
  /** A label lost its last process: its series are to be deleted. */
  onLabelDropped: (label: string) => void;
}

export class VmLabels {
  private readonly members = new Map<number, VmMember>();
  /** Processes per label (a name shared by two VMs is one label). */
  private readonly holders = new Map<string, number>();
  /** Members with a drop time: gone, or never named. Scanned on expiry (bounded by the grace period). */
  private readonly dropping = new Set<VmMember>();
  private ownCount = 0;

  constructor(private readonly o: VmLabelOptions) {}

  /** The member a pid's counts go to at stream time t (a pid first seen in counts is unnamed). */
  memberOf(pid: number, t: number): VmMember {
    let m = this.members.get(pid);
    if (!m) m = this.add(pid, unnamedVm(pid), 'unknown', {}, false);
    if (!m.named && !m.gone) {
      m.dropAt = t + this.o.graceMs;
      this.dropping.add(m);
    }
    return m;
  }

  /** The stream's vm message. */
  apply(v: VmMessage): void {
    let m = this.members.get(v.pid);
    if (v.event === 'gone') {
      if (!m || m.gone) return;
      m.gone = true;
      m.dropAt = v.t + this.o.graceMs;
      this.dropping.add(m);
      return;
    }
    // a pid that is gone and back is a new process (pid reuse): the old one goes now
    if (m?.gone) {
      this.drop(m);
      m = undefined;
    }
    if (!m) {
      this.add(v.pid, v.name, v.source, { ...v.vcpus }, true);
      return;
    }
    // the label stays (see above); vm_info shows what the stream says now (its labels object is made again)
    if (m.source !== v.source) m.labels = undefined;
    m.name = v.name;
    m.source = v.source;
    m.vcpus = { ...m.vcpus, ...v.vcpus };
    if (!m.named) {
      m.named = true;
      m.dropAt = undefined;
      this.dropping.delete(m);
    }
  }

  /** Drops the members whose time has come (stream time t). */
  expire(t: number): void {
    for (const m of this.dropping) if (m.dropAt !== undefined && m.dropAt <= t) this.drop(m);
  }

  /** Members with their own label (exitscope_vm_info), in the order first seen. */
  *own(): IterableIterator<VmMember> {
    for (const m of this.members.values()) if (m.own) yield m;
  }

  get size(): number {
    return this.members.size;
  }

  private add(pid: number, name: string, source: string, vcpus: Record<string, number>, named: boolean): VmMember {
    const own = this.ownCount < this.o.maxVms;
    // an empty label value is no label to Prometheus: a nameless VM is called as an unnamed one
    const m: VmMember = { pid, label: own ? name || unnamedVm(pid) : OTHER_VM, own, name, source, vcpus, named, gone: false, dropAt: undefined };
    if (own) this.ownCount++;
    this.members.set(pid, m);
    this.holders.set(m.label, (this.holders.get(m.label) ?? 0) + 1);
    return m;
  }

  private drop(m: VmMember): void {
    this.members.delete(m.pid);
    this.dropping.delete(m);
    if (m.own) this.ownCount--;
    const left = (this.holders.get(m.label) ?? 1) - 1;
    if (left > 0) this.holders.set(m.label, left);
    else {
      this.holders.delete(m.label);
      // "other" keeps what it counted: its series never go down
      if (m.label !== OTHER_VM) this.o.onLabelDropped(m.label);
    }
  }
}
