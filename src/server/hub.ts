/**
 * What a client needs to join the stream at any time: the hello, every VM's
 * latest state, the totals so far (one merged snapshot), the recent notices
 * (lost, gap, error) and the end if it came. Fed by the collector's stream;
 * bounded by the number of live VMs and keys, not by time: gone VMs beyond the newest
 * MAX_GONE_VMS are folded, their totals summed into one entry (FOLDED_PID, "N earlier VMs",
 * as the model does: src/model/aggregate.ts), so a server on a CI farm that sees thousands of
 * short-lived VMs a day keeps every total exact and its memory flat.
 */
import { FOLDED_PID, foldedName } from '../model/aggregate.js';
import type { HelloMessage, Message } from '../protocol/messages.js';
import { SnapshotMerger } from './merge.js';

const MAX_NOTICES = 50;
/** VMs that have gone, kept for late joiners (the newest): a server up for months sees many. */
const MAX_GONE_VMS = 256;

export class StreamHub {
  private hello: HelloMessage | undefined;
  private readonly vms = new Map<number, Message>();
  private readonly totals = new SnapshotMerger();
  private notices: Message[] = [];
  private end: Message | undefined;
  /** Gone VMs folded into FOLDED_PID so far. */
  private foldedVms = 0;

  apply(m: Message): void {
    switch (m.type) {
      case 'hello':
        this.hello = m;
        return;
      case 'vm': {
        if (m.pid === FOLDED_PID) return; // not a VM process: ours
        this.vms.delete(m.pid); // re-inserted: the map stays in order of the latest change
        this.vms.set(m.pid, m);
        if (m.event === 'gone') this.foldOldGone(m.t);
        return;
      }
      case 'snapshot':
        this.totals.add(m);
        return;
      case 'lost':
      case 'gap':
      case 'error':
        this.notices.push(m);
        if (this.notices.length > MAX_NOTICES) this.notices = this.notices.slice(-MAX_NOTICES);
        return;
      case 'end':
        this.end = m;
        return;
      case 'exit':
        return; // detail is live only
    }
  }

  /** Beyond 2 x MAX_GONE_VMS gone VMs, the oldest are forgotten by name (down to MAX_GONE_VMS) and their totals summed into FOLDED_PID's. */
  private foldOldGone(t: number): void {
    const gone: number[] = [];
    for (const v of this.vms.values()) if (v.type === 'vm' && v.event === 'gone' && v.pid !== FOLDED_PID) gone.push(v.pid);
    // in batches, as the model does: one pass over the totals folds many (amortised, whatever the rate of VMs)
    if (gone.length <= 2 * MAX_GONE_VMS) return;
    const drop = new Set(gone.slice(0, gone.length - MAX_GONE_VMS));
    for (const pid of drop) this.vms.delete(pid);
    this.totals.fold(drop);
    this.foldedVms += drop.size;
    // named for late joiners as the model names it; gone, so that no view shows it as running
    this.vms.delete(FOLDED_PID);
    this.vms.set(FOLDED_PID, { type: 'vm', event: 'gone', t, pid: FOLDED_PID, name: foldedName(this.foldedVms), source: 'process', vcpus: {} });
  }

  get started(): boolean {
    return this.hello !== undefined;
  }

  /** The messages that bring a new client to the present, in stream order. */
  catchUp(): Message[] {
    if (!this.hello) return [];
    const snapshot = this.totals.peek();
    return [this.hello, ...this.vms.values(), ...this.notices, ...(snapshot ? [snapshot] : []), ...(this.end ? [this.end] : [])];
  }
}
