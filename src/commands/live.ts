/**
 * What every live command shares: check the machine, resolve filters, start
 * the collector, and feed the model and the recording from its stream.
 */
import { constants } from 'node:os';
import { UserError } from '../errors.js';
import { Collector } from '../collector/collector.js';
import { pidsOfVm } from '../collector/vm-names.js';
import { Aggregate } from '../model/aggregate.js';
import { SVM_EXIT_REASONS, VMX_EXIT_REASONS } from '../model/exit-reasons.js';
import { type Capabilities, blocking, blockingError, detectCapabilities } from '../probes/capabilities.js';
import type { Message } from '../protocol/messages.js';
import { RecordingWriter } from '../recording/writer.js';
import type { ServeOptions } from '../server/start.js';
import { safeText } from '../views/safe-text.js';
import { type CgroupScope, resolveCgroup } from '../scope/cgroup-target.js';
import { checkCgroupFilter } from '../scope/filter-support.js';
import { createRunCgroup, removeRunCgroup } from '../scope/run-cgroup.js';

export interface LiveOptions {
  interval: number;
  pid: number[];
  vm?: string;
  reason: string[];
  /** Count only threads in this cgroup v2 (and the cgroups below it): --cgroup PATH. */
  cgroup?: string;
  /** Create a fresh cgroup to count in (run --scope; the caller puts COMMAND in it and removes it). */
  createCgroup?: boolean;
  detail?: number;
  /** Time exits (kvm_exit → kvm_entry); default true. */
  latency?: boolean;
  output?: string;
  verbose?: boolean;
  /** Also serve the stream to WebSocket clients (top --serve). */
  serve?: ServeOptions;
  /** Where notices of trouble during collection go (bpftrace died, events lost); stderr by default. */
  notify?: (line: string) => void;
  /**
   * false: Live.agg is not fed snapshots, only the rest (its end, lost events and errors stay true).
   * The exporter keeps its counts in its MetricsService: at 1,000 VMs the Aggregate's totals and
   * windows cost more than a percent of a core it never reads (docs/benchmarks.md section 6).
   */
  totals?: boolean;
  /**
   * false: exit counts by VM, not by thread (every snapshot entry's tid 0; Collector exitsByThread):
   * the exporter without --metrics-vcpu, whose stream never leaves the process. Refused with
   * --output or a server: the stream's `exits[].tid` (docs/protocol.md) is a thread there.
   */
  exitsByThread?: boolean;
}

/** A line for the user when the stream reports trouble; undefined for routine messages. */
export function noticeOf(m: Message): string | undefined {
  switch (m.type) {
    case 'gap':
      return m.resumed ? `exitscope: ${safeText(m.reason)}; restarted it: exits in the gap were not counted (marked in the stream)` : `exitscope: ${safeText(m.reason)}; collection stopped`;
    case 'error':
      return `exitscope: error [${safeText(m.code)}]: ${safeText(m.message)}`;
    case 'lost':
      return `exitscope: ${m.events} events lost: counts are incomplete`;
    default:
      return undefined;
  }
}

/** "hlt", "HLT", "0x78", "120" -> 120; names are looked up in the host vendor's table. */
export function parseReason(spec: string, vendor: 'amd' | 'intel' | undefined): number {
  const s = spec.trim();
  if (/^(0x[0-9a-f]+|\d+)$/i.test(s)) {
    const n = Number(s);
    if (n > 0xffffffff) throw new UserError('BAD_REASON', `exit reason ${s} is out of range`, 'give a 32-bit number or a name like HLT');
    return n;
  }
  const table = vendor === 'intel' ? VMX_EXIT_REASONS : SVM_EXIT_REASONS;
  for (const [code, name] of table) if (name.toLowerCase() === s.toLowerCase()) return code;
  throw new UserError('BAD_REASON', `unknown exit reason '${spec}' for ${vendor === 'intel' ? 'VMX' : 'SVM'}`, `use a number, or one of: ${[...table.values()].slice(0, 12).join(', ')}, ...`);
}

export interface Live {
  collector: Collector;
  caps: Capabilities;
  /** The VM processes traced (from --pid and --vm); empty for all. */
  pids: number[];
  /** The cgroup counted (--cgroup, or the one made for run --scope); undefined for all. */
  cgroup: CgroupScope | undefined;
  agg: Aggregate;
  recording: RecordingWriter | undefined;
  /** Stops collecting, waits for the final totals, closes the recording; rejects with its write error, if any. */
  stop(): Promise<void>;
}

/** Checks the machine can trace (what stops tracing is said before any file is touched). */
export async function tracingCapabilities(): Promise<Capabilities> {
  const caps = await detectCapabilities();
  const stop = blocking(caps);
  if (stop) throw blockingError(stop);
  return caps;
}

/** --pid and --vm NAME together: the VM processes to trace. */
export function targetPids(pid: readonly number[], vm: string | undefined): number[] {
  const pids = [...pid];
  if (vm !== undefined) {
    const found = pidsOfVm(vm);
    if (found.length === 0) throw new UserError('VM_NOT_FOUND', `no running VM is named '${vm}'`, 'list the VMs with `exitscope top --once`, or filter by --pid');
    pids.push(...found);
  }
  return pids;
}

/** --cgroup PATH resolved, or (run --scope) a fresh cgroup; checked against what bpftrace and the kernel can filter. */
export function targetCgroup(caps: Capabilities, o: Pick<LiveOptions, 'cgroup' | 'createCgroup'>): CgroupScope | undefined {
  if (o.cgroup === undefined && !o.createCgroup) return undefined;
  checkCgroupFilter(caps);
  return o.createCgroup ? createRunCgroup() : resolveCgroup(o.cgroup as string);
}

export async function startLive(o: LiveOptions, onMessage: (m: Message) => void = () => undefined): Promise<Live> {
  const caps = await tracingCapabilities();
  const pids = targetPids(o.pid, o.vm);
  const reasons = o.reason.map((r) => parseReason(r, caps.vendor));
  // made last of the checks: nothing can fail between here and the try that removes it
  const cgroup = targetCgroup(caps, o);
  try {
    return await startLiveIn(o, onMessage, caps, pids, reasons, cgroup);
  } catch (e) {
    if (cgroup?.created) await removeRunCgroup(cgroup);
    throw e;
  }
}

/** startLive once the machine is checked and the filters resolved (tests: with a stand-in's capabilities). */
export async function startLiveIn(o: LiveOptions, onMessage: (m: Message) => void, caps: Capabilities, pids: number[], reasons: number[], cgroup: CgroupScope | undefined): Promise<Live> {
  if (o.exitsByThread === false && (o.output !== undefined || o.serve !== undefined)) throw new Error('exit counts by VM (exitsByThread false) are for a stream that stays in the process: not with a recording or a server');
  // the server first: the hello must reach it
  // where it listens and its token are said on stderr even under the dashboard (before it draws)
  // imported only when serving: the WebSocket server and prom-client are most of a start's module loading
  const served = o.serve ? await (await import('../server/start.js')).startServer(o.serve, (l: string) => process.stderr.write(`${l}\n`)) : undefined;
  const agg = new Aggregate();
  // a failed write (disk full) stops the collection: see stop() for how the error reaches the command
  let live: Live | undefined;
  const recording = o.output ? new RecordingWriter(o.output, { onFailure: () => void live?.stop() }) : undefined;
  const collector = new Collector({
    caps,
    intervalMs: o.interval,
    pids,
    reasons,
    ...(cgroup ? { cgroup } : {}),
    ...(o.detail !== undefined ? { detailPerInterval: o.detail } : {}),
    ...(o.latency === false ? { latency: false } : {}),
    ...(o.exitsByThread === false ? { exitsByThread: false } : {}),
    onMessage: (m) => {
      const notice = noticeOf(m);
      if (notice) (o.notify ?? ((l: string) => process.stderr.write(`${l}\n`)))(notice);
      if (o.totals !== false || m.type !== 'snapshot') agg.apply(m);
      recording?.write(m);
      served?.server.publish(m);
      onMessage(m);
    },
    ...(o.verbose ? { onDiagnostic: (l: string) => process.stderr.write(`bpftrace: ${l}\n`) } : {}),
  });
  try {
    await collector.start();
  } catch (e) {
    recording?.close();
    await served?.server.close();
    throw e;
  }
  let stopped: Promise<void> | undefined;
  live = {
    collector,
    caps,
    pids,
    cgroup,
    agg,
    recording,
    stop() {
      stopped ??= collector
        .stop()
        .then(async () => {
          recording?.close();
          await served?.server.close();
        })
        // the recording's write error is the command's error (printed as error [RECORDING_WRITE]);
        // the same promise each time, marked handled, so a caller that does not await is fine
        .then(() => {
          if (recording?.failure) throw recording.failure;
        });
      stopped.catch(() => undefined);
      return stopped;
    },
  };
  served?.attachLive(live);
  if (recording?.failed) await live.stop(); // the hello could not be written: throws its error
  return live;
}

/**
 * Calls `stop` on the first SIGINT/SIGTERM; a second one exits at once, with the status a shell
 * gives for that signal (130, 143): process.exit runs the exit hook that kills bpftrace
 * (src/process/tracer-process.ts), after `lastly`. Returns an unsubscribe. This is the one place signals are
 * handled: nothing else (execa's cleanup, signal-exit) may re-raise them.
 */
export function onInterrupt(stop: (signal: NodeJS.Signals) => void, lastly?: () => void): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    if (count === 1) stop(signal);
    else {
      // what cannot wait for the exit hook's SIGKILL of bpftrace (e.g. run's COMMAND and cgroup)
      lastly?.();
      process.exit(128 + (constants.signals[signal] ?? constants.signals.SIGINT));
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/**
 * Waits until `seconds` pass (forever if undefined), Ctrl-C, or the stream
 * ends by itself (bpftrace gave up). Resolves with what happened.
 * After a signal the handler stays until live.stop() is done: the stop (final totals, the
 * recording closed) is ours to finish, and a second signal still exits at once rather than by
 * the default action.
 */
export function waitForEnd(live: Live, seconds: number | undefined): Promise<'duration' | 'interrupt' | 'ended'> {
  return new Promise((resolve) => {
    const finish = (why: 'duration' | 'interrupt' | 'ended'): void => {
      if (timer) clearTimeout(timer);
      clearInterval(watch);
      if (why === 'interrupt') live.stop().then(off, off);
      else off();
      resolve(why);
    };
    const timer = seconds !== undefined ? setTimeout(() => finish('duration'), seconds * 1000) : undefined;
    // also keeps the process alive while there is no timer
    const watch = setInterval(() => {
      if (live.agg.ended || live.recording?.failed) finish('ended');
    }, 100);
    const off = onInterrupt(() => finish('interrupt'));
  });
}
