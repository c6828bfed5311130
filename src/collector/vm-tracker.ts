/**
 * Keeps the VM list current: which host pids are VMs, their names, their vCPU
 * threads, and when they go. VMs are found two ways: KVM's debugfs directory
 * (/sys/kernel/debug/kvm/PID-FD, one per VM, as kvm_stat uses), polled so that
 * short-lived VMs are named while they still exist; and pids seen in the exit
 * counts. A VM that exits is reported gone; one that restarts is a new pid.
 *
 * Without threads (the exporter's program without --metrics-vcpu keys its exit counts by VM, tid
 * 0: src/probes/program.ts exitsByThread), a VM's vCPU threads are read once, when it is found,
 * and its thread list is not polled: nothing downstream labels by vCPU, and at 1,000 VMs that
 * listing every 2 s was the largest part of the tracker's cost (docs/benchmarks.md section 6).
 *
 * A VM whose process ended before it could be named (it lived between two polls: most of a CI
 * farm's short-lived VMs, as in the lab's soak) shows only as a pid in the counts: it is said gone
 * all the same, as `pid N`, so that the model folds its counts like any gone VM's. Unsaid, the
 * Aggregate kept its totals for the whole run, about 2 KB a VM (docs/lab.md#bounded-maps).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { VmMessage } from '../protocol/messages.js';
import { readProcess } from './vm-names.js';

/** Pids with a VM in KVM's debugfs ("1234-11" directories, one per VM, as kvm_stat reads them). */
export function vmPidsFromDebugfs(debugfsKvm = '/sys/kernel/debug/kvm'): number[] {
  try {
    return [...new Set(readdirSync(debugfsKvm).map((e) => /^(\d+)-\d+$/.exec(e)?.[1]).filter((x): x is string => x !== undefined).map(Number))];
  } catch {
    return [];
  }
}

export class VmTracker {
  /** tasks: the VM's thread list when last re-read (the periodic re-read skips a VM whose list is the same). */
  private readonly known = new Map<number, { name: string; threads: Set<number>; tasks?: string }>();

  constructor(
    private readonly emit: (m: VmMessage) => void,
    private readonly now: () => number,
    private readonly proc = '/proc',
    private readonly debugfsKvm = '/sys/kernel/debug/kvm',
    /** false: follow VMs only, not their vCPU threads (see above). */
    private readonly threads = true,
  ) {}

  /** Pids with a VM in KVM's debugfs ("1234-11" directories). */
  vmPidsFromDebugfs(): number[] {
    return vmPidsFromDebugfs(this.debugfsKvm);
  }

  /** Pids seen in the counts whose process had already ended, unnamed: said gone at the next checkGone(). */
  private readonly endedUnnamed = new Set<number>();
  /**
   * Pids said gone that way in the current and the previous checkGone() round: their late counts (the
   * copy a VM last counted in is printed once more) are not looked up again nor said gone twice.
   * Two rounds (5 to 10 intervals) outlast those copies; older ones are forgotten (bounded).
   */
  private saidGone = new Set<number>();
  private saidGoneBefore = new Set<number>();

  private polls = 0;
  /** KVM debugfs' link count and times when last listed (see debugfsMoved). */
  private debugfsState: string | undefined;

  /**
   * Looks for new VMs (often: so short-lived VMs are named while they live) and, every tenth call,
   * for new vCPU threads of the known ones (rare; the exit counts also bring new threads to light
   * through saw()). A VM is read again only if its thread list changed since its last re-read: one
   * directory listing each, not six files (at 1,000 VMs this re-read was the exporter's largest
   * cost: docs/benchmarks.md section 6). KVM's debugfs is listed only when it changed (a stat), and
   * every tenth call whatever the stat says.
   */
  poll(): void {
    const tenth = this.polls++ % 10 === 0;
    if (this.debugfsMoved() || tenth) for (const pid of this.vmPidsFromDebugfs()) if (!this.known.has(pid)) this.look(pid, undefined);
    if (!tenth || !this.threads) return;
    for (const [pid, k] of this.known) {
      let tasks: string;
      try {
        tasks = readdirSync(join(this.proc, String(pid), 'task')).join(',');
      } catch {
        continue; // gone: checkGone() says so
      }
      if (tasks === k.tasks) continue;
      this.look(pid, undefined);
      const now = this.known.get(pid);
      if (now) now.tasks = tasks;
    }
  }

  /**
   * Whether KVM's debugfs directory may have a new VM since the last call. Each VM is a
   * subdirectory: creating one adds a link to the directory (debugfs_create_dir), removing one
   * takes a link away and sets its mtime (simple_rmdir), so an unchanged (links, mtime, ctime) means
   * no VM came: a stat instead of listing 1,000 entries five times a second. Stat before listing: a
   * VM made in between shows at the next call. Unreadable: nothing to list (vmPidsFromDebugfs alike).
   */
  private debugfsMoved(): boolean {
    let state: string;
    try {
      const s = statSync(this.debugfsKvm);
      state = `${s.nlink} ${s.mtimeMs} ${s.ctimeMs}`;
    } catch {
      return false;
    }
    if (state === this.debugfsState) return false;
    this.debugfsState = state;
    return true;
  }

  /** Exit counts name (pid, tid) pairs: make sure each is known. tid 0 is the whole VM (exit counts keyed by VM). */
  saw(pairs: { pid: number; tid: number }[]): void {
    let last = -1;
    for (const { pid, tid } of pairs) {
      if (this.endedUnnamed.has(pid) || this.saidGone.has(pid) || this.saidGoneBefore.has(pid)) continue;
      if (tid !== 0) this.look(pid, tid, true);
      // a VM's entries come together: one lookup for a run of them
      else if (pid !== last && !this.known.has(pid)) this.look(pid, undefined, true);
      last = pid;
    }
  }

  /** fromCounts: the pid is in the exit counts, so a process that is not there any more was a VM that ended. */
  private look(pid: number, tid: number | undefined, fromCounts = false): void {
    const k = this.known.get(pid);
    if (k && (tid === undefined ? false : k.threads.has(tid))) return;
    const p = readProcess(pid, this.proc);
    if (!p) {
      // a known VM's end is checkGone()'s; a process still there but unreadable is not gone
      if (fromCounts && !k && !existsSync(join(this.proc, String(pid)))) this.endedUnnamed.add(pid);
      return;
    }
    const threads = k?.threads ?? new Set<number>();
    const before = threads.size;
    if (tid !== undefined) threads.add(tid);
    for (const t of Object.keys(p.vcpus)) threads.add(Number(t));
    if (k && threads.size === before) return;
    this.emit({ type: 'vm', event: k ? 'updated' : 'appeared', t: this.now(), pid, name: p.name, source: p.source, vcpus: p.vcpus });
    this.known.set(pid, { name: p.name, threads });
  }

  /**
   * Reports VMs whose process is gone (its /proc directory: a stat, not the six reads of readProcess),
   * and those that ended unnamed since the last call (as `pid N`: the name the views give a pid).
   */
  checkGone(): void {
    this.saidGoneBefore = this.saidGone;
    this.saidGone = new Set();
    for (const [pid, k] of this.known) {
      if (existsSync(join(this.proc, String(pid)))) continue;
      this.emit({ type: 'vm', event: 'gone', t: this.now(), pid, name: k.name, source: 'process', vcpus: {} });
      this.known.delete(pid);
      // its last counts may come after this (the copy it counted in prints once more): not a VM ended unnamed
      this.saidGone.add(pid);
    }
    for (const pid of this.endedUnnamed) {
      // its pid already taken by a VM that was named since: that one is not gone
      if (this.known.has(pid)) continue;
      this.emit({ type: 'vm', event: 'gone', t: this.now(), pid, name: `pid ${pid}`, source: 'process', vcpus: {} });
      this.saidGone.add(pid);
    }
    this.endedUnnamed.clear();
  }
}
