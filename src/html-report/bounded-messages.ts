/**
 * The messages an HTML report embeds: the recording's stream, bounded whatever its length.
 * Snapshots are deltas, so consecutive ones are summed exactly (SnapshotMerger) into at most
 * MAX_POINTS points over time; what the model adds up from the result is what it adds up from
 * the recording (the same Report: counts, latency buckets, faults, handlers, lost events, VMs,
 * the last gaps and errors the model keeps). Exit details (live only) are left out.
 * Memory: MAX_POINTS snapshots and one state per VM, never the whole file.
 */
import type { HelloMessage, Message, SnapshotMessage, VmMessage } from '../protocol/messages.js';
import { SnapshotMerger } from '../server/merge.js';
import { MAX_NOTICES } from '../model/aggregate.js';

/** Points over time in an HTML report (the chart's resolution). */
export const MAX_POINTS = 500;
/** Gaps and errors kept (the newest): as many as the model keeps, so the page and the report agree. */
export const MAX_NOTICES_KEPT = MAX_NOTICES;

export interface BoundedStream {
  messages: Message[];
  /** Snapshots in the recording, and how many were summed into one point. */
  snapshots: number;
  perPoint: number;
}

/** One VM message with the effect of all of a VM's messages applied in order (see Aggregate.apply). */
function mergeVm(prev: VmMessage | undefined, m: VmMessage): VmMessage {
  if (!prev) return { ...m, vcpus: { ...m.vcpus } };
  const gone = m.event === 'gone';
  return { ...m, name: gone ? prev.name : m.name, source: gone ? prev.source : m.source, vcpus: { ...prev.vcpus, ...m.vcpus } };
}

/**
 * `read()` gives the recording's messages anew each time (it is read twice: first to count the
 * snapshots, then to merge them into points of equal numbers of intervals).
 */
export function boundedMessages(read: () => Iterable<Message>, maxPoints = MAX_POINTS): BoundedStream {
  let snapshots = 0;
  let gaps = 0;
  let errors = 0;
  for (const m of read()) {
    if (m.type === 'snapshot') snapshots++;
    else if (m.type === 'gap') gaps++;
    else if (m.type === 'error') errors++;
  }
  const perPoint = Math.max(1, Math.ceil(snapshots / maxPoints));
  let hello: HelloMessage | undefined;
  const vms = new Map<number, VmMessage>();
  const timeline: Message[] = [];
  const merger = new SnapshotMerger();
  let inPoint = 0;
  let lost = 0;
  let lostT = 0;
  let gapsSeen = 0;
  let errorsSeen = 0;
  let end: Message | undefined;
  const flush = (): void => {
    const s: SnapshotMessage | undefined = merger.take();
    if (s) timeline.push(s);
    // the point's losses as one notice, at the point's time (the stream stays in time order)
    if (lost > 0) timeline.push({ type: 'lost', t: Math.max(lostT, s?.t ?? 0), events: lost });
    inPoint = 0;
    lost = 0;
  };
  for (const m of read()) {
    switch (m.type) {
      case 'hello':
        hello = m;
        break;
      case 'snapshot':
        merger.add(m);
        if (++inPoint === perPoint) flush();
        break;
      case 'lost':
        lost += m.events;
        lostT = m.t;
        break;
      case 'vm':
        vms.set(m.pid, mergeVm(vms.get(m.pid), m));
        break;
      case 'gap':
        if (++gapsSeen > gaps - MAX_NOTICES_KEPT) timeline.push(m);
        break;
      case 'error':
        if (++errorsSeen > errors - MAX_NOTICES_KEPT) timeline.push(m);
        break;
      case 'end':
        end = m;
        break;
      case 'exit':
        break; // the detail stream is live only
    }
  }
  flush();
  return { messages: hello ? [hello, ...vms.values(), ...timeline, ...(end ? [end] : [])] : [], snapshots, perPoint };
}
