/**
 * The one stream exitscope publishes: the collector writes it, and the
 * terminal views, recordings, reports and (later) WebSocket clients read it.
 * Documented in docs/protocol.md; validated with zod at every boundary where
 * it comes from outside (files, sockets).
 *
 * Counts in snapshots are deltas for that interval: a consumer sums them.
 */
import { z } from 'zod';
import { PROTOCOL_VERSION } from './version.js';

export { PROTOCOL_VERSION };

const Int = z.number().int();
const Count = Int.nonnegative();
/** A log2 histogram bucket: [lower bound in ns, count]. */
export const Bucket = z.tuple([Count, Count]);
export type Bucket = z.infer<typeof Bucket>;

export const ProbeStatus = z.object({
  probe: z.string(),
  attached: z.boolean(),
  detail: z.string(),
});

export const Hello = z.object({
  type: z.literal('hello'),
  v: z.literal(PROTOCOL_VERSION),
  startedAt: z.string(),
  host: z.string(),
  kernel: z.string(),
  bpftrace: z.string(),
  vendor: z.enum(['amd', 'intel', 'unknown']),
  /** NPT/EPT on, if known. */
  tdp: z.boolean().nullable(),
  intervalMs: Int.positive(),
  probes: z.array(ProbeStatus),
  /** Handler names by index (snapshot `handlers[].h`). */
  handlers: z.array(z.string()),
  filters: z.object({
    pids: z.array(Int),
    reasons: z.array(Int),
    /**
     * Only threads in this cgroup v2 were counted (--cgroup, run --scope): its path, the ids of it
     * and the cgroups below it (u64 as decimal strings, the cgroup's own first), and whether
     * exitscope made it for run --scope. Absent: every cgroup. Added without a version change:
     * readers ignore keys they do not know.
     */
    cgroup: z.object({ path: z.string(), ids: z.array(z.string()), created: z.boolean() }).optional(),
  }),
});

export const Snapshot = z.object({
  type: z.literal('snapshot'),
  seq: Count,
  /** ms since the stream started (host clock). */
  t: Count,
  /** Length of this interval in ms (bpftrace's clock). */
  ms: Count,
  /** The last snapshot, printed when bpftrace was stopped. */
  final: z.boolean().optional(),
  /**
   * Several intervals summed into one (WebSocket only): the totals so far for a client that
   * joins late, or what a slow client missed while it was behind. Absent means 1.
   */
  merged: Count.optional(),
  exits: z.array(z.object({ pid: Int, tid: Int, isa: Int, reason: Count, n: Count })),
  exitNs: z.array(z.object({ pid: Int, isa: Int, reason: Count, b: z.array(Bucket) })),
  faults: z.array(z.object({ pid: Int, code: Count, n: Count })),
  regions: z.array(z.object({ pid: Int, region: Count, n: Count })),
  handlers: z.array(z.object({ pid: Int, h: Count, n: Count, b: z.array(Bucket) })),
});

export const Vm = z.object({
  type: z.literal('vm'),
  event: z.enum(['appeared', 'updated', 'gone']),
  t: Count,
  pid: Int,
  name: z.string(),
  /** Where the name came from: qemu -name, proxmox -id, or the process name. */
  source: z.enum(['qemu', 'proxmox', 'process']),
  /** vCPU index by thread id (threads named "CPU N/KVM"); other threads are left out. */
  vcpus: z.record(z.string(), Int),
});

export const Lost = z.object({ type: z.literal('lost'), t: Count, events: Count });
export const Gap = z.object({
  type: z.literal('gap'),
  t: Count,
  /** Why counting stopped, e.g. "bpftrace exited with status 1". */
  reason: z.string(),
  /** Counting resumed (a new bpftrace); false if it gave up. */
  resumed: z.boolean(),
});
export const ErrorMessage = z.object({ type: z.literal('error'), t: Count, code: z.string(), message: z.string() });
export const ExitDetail = z.object({
  type: z.literal('exit'),
  t: Count,
  pid: Int,
  tid: Int,
  isa: Int,
  reason: Count,
  rip: z.string(),
  info1: z.string(),
  info2: z.string(),
});
export const End = z.object({ type: z.literal('end'), t: Count, complete: z.boolean() });

export const Message = z.discriminatedUnion('type', [Hello, Snapshot, Vm, Lost, Gap, ErrorMessage, ExitDetail, End]);
export type Message = z.infer<typeof Message>;
export type HelloMessage = z.infer<typeof Hello>;
export type SnapshotMessage = z.infer<typeof Snapshot>;
export type VmMessage = z.infer<typeof Vm>;
