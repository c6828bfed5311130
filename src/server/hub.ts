/**
 * What a client needs to join the stream at any time: the hello, every VM's
 * latest state, the totals so far (one merged snapshot), the recent notices
 * (lost, gap, error) and the end if it came. Fed by the collector's stream;
 * bounded by the number of VMs and keys, not by time.
 */
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

  apply(m: Message): void {
    switch (m.type) {
      case 'hello':
        this.hello = m;
        return;
      case 'vm': {
        this.vms.delete(m.pid); // re-inserted: the map stays in order of the latest change
        this.vms.set(m.pid, m);
        const gone = [...this.vms.values()].filter((v) => v.type === 'vm' && v.event === 'gone');
        for (const v of gone.slice(0, Math.max(0, gone.length - MAX_GONE_VMS))) if (v.type === 'vm') this.vms.delete(v.pid);
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
