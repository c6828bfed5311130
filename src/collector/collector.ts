/**
 * The collector: runs bpftrace with our program, turns its output into the
 * message stream (hello, snapshots, VMs, lost events, gaps, end), and keeps it
 * running: if bpftrace dies it is restarted, with the gap marked in the stream.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { type Capabilities, blocking, blockingError } from '../probes/capabilities.js';
import { buildProgram, COUNTING_MAPS } from '../probes/program.js';
import { dialectFor } from '../probes/dialect.js';
import { spawnTracer, type Tracer } from '../process/tracer-process.js';
import type { HelloMessage, Message } from '../protocol/messages.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { Frame } from './bpftrace-output.js';
import { type ReaderEvent, type SnapshotFrame, SnapshotReader } from './snapshot-reader.js';
import type { CgroupScope } from '../scope/cgroup-target.js';
import { exitsByVm } from './thread-keys.js';
import { VmTracker } from './vm-tracker.js';

/** A program line that updates a counting map (`@faults1[pid, $code] = count();`, hist() alike). */
const COUNTING_UPDATE = new RegExp(`^\\s*(${COUNTING_MAPS.join('|')})\\d*\\[.*\\] = (count|hist)\\(`);

export interface CollectorOptions {
  caps: Capabilities;
  intervalMs: number;
  pids?: number[];
  reasons?: number[];
  /** Count only threads in this cgroup and the cgroups below it (src/scope/). */
  cgroup?: CgroupScope;
  detailPerInterval?: number;
  /** Time exits when kvm:kvm_entry exists (default); false for the cheapest program. */
  latency?: boolean;
  /**
   * Exit counts by thread (default true: the stream's `exits[].tid`). false: by VM, every entry's tid
   * 0 (program.ts exitsByThread), and VmTracker follows no threads: for a consumer that needs no
   * vCPU (the exporter without --metrics-vcpu), never for a stream that leaves the process.
   */
  exitsByThread?: boolean;
  /** Restarts allowed after bpftrace dies; then the stream ends with an error. */
  maxRestarts?: number;
  /** Where messages go, in order. Called synchronously. */
  onMessage: (m: Message) => void;
  /** Lines bpftrace wrote that were not ours (warnings), for --verbose. */
  onDiagnostic?: (line: string) => void;
  proc?: string;
}

/**
 * bpftrace keeps at most 4096 keys per map by default and silently drops updates beyond. Each copy
 * of a map holds the keys of an interval or two (the program rotates and clears them), so this is
 * a cap on what is live at once, not on what a long run sees. EXITSCOPE_MAP_KEYS_MAX changes it
 * (the soak test lowers it to show the maps stay bounded; a host with more live keys raises it).
 * 65,536 (not the 262,144 of one cumulative copy): the kernel charges each of the three copies by
 * its cap, about 0.9 KB per key of cap over all of them (docs/lab.md#bounded-maps), so ~58 MB
 * here, less than one cumulative copy at 262,144 cost; and an interval's keys, not a run's, must fit.
 */
export const DEFAULT_MAP_KEYS_MAX = 65_536;

/** The cap on keys per map: EXITSCOPE_MAP_KEYS_MAX if set (a whole number, 64..16777216), else the default. */
export function mapKeysMax(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.EXITSCOPE_MAP_KEYS_MAX;
  if (raw === undefined || raw === '') return DEFAULT_MAP_KEYS_MAX;
  const n = /^\d{1,8}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 64 && n <= 16_777_216)) throw new UserError('BAD_MAP_KEYS_MAX', `EXITSCOPE_MAP_KEYS_MAX must be a whole number from 64 to 16777216, not ${JSON.stringify(raw.slice(0, 40))}`, 'unset it (default 65536) or give a number of keys per map');
  return n;
}
/** After this long attached, a bpftrace that dies resets the restart count. */
const STABLE_MS = 5 * 60_000;
/** How long an orderly bpftrace exit waits for our own stop before it counts as a crash. */
const INTERRUPT_GRACE_MS = 2000;

export class Collector {
  /** bpftrace's output -> snapshots (deltas): snapshot-reader.ts (the reference: bpftrace-output.ts + deltas.ts). */
  private readonly reader = new SnapshotReader();
  private readonly started = Date.now();
  private seq = 0;
  private child: Tracer | undefined;
  private stopping = false;
  private sawFinal = false;
  private restarts = 0;
  private readonly mapKeysMax = mapKeysMax();
  /** EXITSCOPE_BPFTRACE_LOG: bpftrace's stdout as it came, for diagnosis and the soak test's key counts. */
  private readonly rawLog = process.env.EXITSCOPE_BPFTRACE_LOG ? openSync(process.env.EXITSCOPE_BPFTRACE_LOG, 'a') : undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'exitscope-'));
  private readonly programFile = join(this.dir, 'exitscope.bt');
  private readonly stderrTail: string[] = [];
  private readonly vms: VmTracker;
  private vmPoll: NodeJS.Timeout | undefined;
  private readonly handlers: string[];
  private readonly rotateEvery: number;
  readonly hello: HelloMessage;
  private exitPromise: Promise<void> | undefined;

  constructor(private readonly o: CollectorOptions) {
    const c = o.caps;
    const stop = blocking(c);
    if (stop) throw blockingError(stop);
    const dialect = dialectFor(c);
    // exits by VM asked for, but this bpftrace needs them keyed by thread in the kernel: added up here
    this.exitsToVm = o.exitsByThread === false && dialect.threadKeys;
    const program = buildProgram({
      intervalMs: o.intervalMs,
      pids: o.pids ?? [],
      reasons: o.reasons ?? [],
      cgroupIds: o.cgroup?.ids ?? [],
      latency: c.tracepoints.kvm_entry !== undefined && o.latency !== false,
      pageFaults: c.tracepoints.kvm_page_fault !== undefined,
      handlers: c.handlers,
      dialect,
      ...(o.exitsByThread === false ? { exitsByThread: false } : {}),
      ...(o.detailPerInterval !== undefined ? { detailPerInterval: o.detailPerInterval } : {}),
    });
    this.handlers = program.handlers;
    this.rotateEvery = program.rotateEvery;
    this.vms = new VmTracker((m) => this.emit(m), () => this.now(), o.proc, undefined, o.exitsByThread !== false);
    writeFileSync(this.programFile, program.text);
    this.programLines = program.text.split('\n');
    this.hello = {
      type: 'hello',
      v: PROTOCOL_VERSION,
      startedAt: new Date(this.started).toISOString(),
      host: hostname(),
      kernel: c.kernel,
      bpftrace: c.bpftrace?.version ?? 'unknown',
      vendor: c.vendor ?? 'unknown',
      tdp: c.tdp ?? null,
      intervalMs: o.intervalMs,
      probes: [
        { probe: 'tracepoint:kvm:kvm_exit', attached: true, detail: o.exitsByThread === false ? 'exit counts per VM and reason' : 'exit counts per VM, vCPU and reason' },
        { probe: 'tracepoint:kvm:kvm_entry', attached: c.tracepoints.kvm_entry !== undefined && o.latency !== false, detail: !c.tracepoints.kvm_entry ? 'tracepoint missing: no latency' : o.latency === false ? 'not asked for (--no-latency)' : 'exit-handling latency' },
        { probe: 'tracepoint:kvm:kvm_page_fault', attached: c.tracepoints.kvm_page_fault !== undefined, detail: c.tracepoints.kvm_page_fault ? 'page faults by error code and region' : 'tracepoint missing: no page faults' },
        ...(c.handlers.length
          ? c.handlers.map((h) => ({ probe: `kprobe:${h}`, attached: true, detail: 'handler calls and latency' }))
          : [{ probe: 'kprobe:*page_fault', attached: false, detail: c.kprobes ? 'no known fault handler symbol found' : 'kprobes unavailable on this kernel' }]),
      ],
      handlers: this.handlers,
      filters: { pids: o.pids ?? [], reasons: o.reasons ?? [], ...(o.cgroup ? { cgroup: { path: o.cgroup.path, ids: o.cgroup.ids, created: o.cgroup.created } } : {}) },
    };
  }

  private now(): number {
    return Date.now() - this.started;
  }

  /** The stream ended (end emitted): nothing more may follow, whoever asks. */
  private finished = false;

  private emit(m: Message): void {
    if (this.finished) return;
    if (m.type === 'end') this.finished = true;
    this.o.onMessage(m);
  }

  /** Starts bpftrace; resolves once every probe is attached (counting has begun). */
  async start(): Promise<void> {
    this.emit(this.hello);
    this.vms.poll();
    // often enough to name a VM that lives for a fraction of a second
    this.vmPoll = setInterval(() => this.vms.poll(), 200);
    this.vmPoll.unref();
    try {
      await this.spawn();
    } catch (e) {
      this.cleanupAfterFailedStart(); // not on a failed restart: that one tries again
      throw e;
    }
  }

  private spawn(): Promise<void> {
    const bpftrace = this.o.caps.bpftrace?.path ?? 'bpftrace';
    // no signal-exit cleanup (see tracer-process.ts); bpftrace dies with us all the same
    const child = spawnTracer(bpftrace, ['-f', 'json', this.programFile], {
      env: { BPFTRACE_MAP_KEYS_MAX: String(this.mapKeysMax), BPFTRACE_MAX_MAP_KEYS: String(this.mapKeysMax) },
    });
    this.child = child;
    this.reader.reset();
    let attachedResolve!: () => void;
    let attachedReject!: (e: Error) => void;
    const attached = new Promise<void>((res, rej) => {
      attachedResolve = res;
      attachedReject = rej;
    });
    let isAttached = false;
    let attachedAt = 0;
    this.childSawFinal = false;
    const onEvent = (e: ReaderEvent): void => {
      if (e.kind === 'attached') {
        this.reader.started(e.tNs);
        isAttached = true;
        attachedAt = Date.now();
        attachedResolve();
      } else this.onEvent(e);
    };
    child.stdout?.on('data', (d: Buffer) => {
      if (this.rawLog !== undefined) writeSync(this.rawLog, d);
      this.reader.push(d, onEvent);
    });
    let errRest = '';
    child.stderr?.on('data', (d: Buffer) => {
      const lines = (errRest + d.toString('utf8')).split('\n');
      errRest = lines.pop() ?? '';
      for (const l of lines) this.onStderr(l);
    });
    this.exitPromise = child.then((r) => {
      this.reader.end(onEvent);
      if (errRest) this.onStderr(errRest);
      const why = r.signal ? `bpftrace was killed by ${r.signal}` : `bpftrace exited with status ${r.exitCode}`;
      if (!isAttached) {
        attachedReject(this.startError(why));
        return;
      }
      // a bpftrace that counted for a good while earns a fresh set of restarts
      if (Date.now() - attachedAt > STABLE_MS) this.restarts = 0;
      if (this.stopping) return;
      if (this.childSawFinal && r.exitCode === 0) {
        // It stopped in order (SIGINT, e.g. Ctrl-C reached the whole process group) and printed its
        // final totals: we are probably stopping too. Restart only if nobody stops us soon.
        setTimeout(() => {
          if (!this.stopping) void this.restart(`${why} (interrupted)`);
        }, INTERRUPT_GRACE_MS).unref();
        return;
      }
      void this.restart(why);
    });
    return attached;
  }

  private startError(why: string): UserError {
    const text = this.stderrTail.join('\n');
    if (/ENOENT|not found|No such file/.test(why + text) && !this.o.caps.bpftrace)
      return new UserError('NO_BPFTRACE', 'bpftrace is not installed', 'apt-get install bpftrace');
    if (/permission|EPERM|Operation not permitted/i.test(text))
      return new UserError('BPFTRACE_PERMISSION', `bpftrace may not load programs: ${text.split('\n')[0]}`, 'run exitscope as root');
    return new UserError('BPFTRACE_FAILED', `${why} before attaching its probes:\n${text.replace(/^/gm, '    ')}`, 'run `exitscope doctor` to see what this kernel and bpftrace support');
  }

  private async restart(why: string): Promise<void> {
    if (this.stopping || this.noRestart) return;
    if (this.restarts >= (this.o.maxRestarts ?? 5)) {
      this.emit({ type: 'gap', t: this.now(), reason: why, resumed: false });
      this.emit({ type: 'error', t: this.now(), code: 'BPFTRACE_DIED', message: `${why}; gave up after ${this.restarts} restarts. ${this.stderrTail.slice(-3).join(' ')}` });
      this.emit({ type: 'end', t: this.now(), complete: false });
      return;
    }
    this.restarts++;
    await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** this.restarts)));
    if (this.stopping) return;
    try {
      await this.spawn();
      this.emit({ type: 'gap', t: this.now(), reason: why, resumed: true });
    } catch (e) {
      void this.restart(`${why}; restart failed: ${(e as Error).message}`);
    }
  }

  private onStderr(line: string): void {
    if (!line.trim()) return;
    const lost = /Lost (\d+) events/.exec(line);
    if (lost) {
      this.emit({ type: 'lost', t: this.now(), events: Number(lost[1]) });
      return;
    }
    this.stderrTail.push(line);
    if (this.stderrTail.length > 20) this.stderrTail.shift();
    this.o.onDiagnostic?.(line);
  }

  private onEvent(e: ReaderEvent): void {
    switch (e.kind) {
      case 'snapshot': {
        const d = e.deltas;
        if (this.exitsToVm) d.exits = exitsByVm(d.exits);
        this.vms.saw(d.exits);
        if (e.frame.final) {
          this.sawFinal = true;
          this.childSawFinal = true;
        }
        this.checkMapFill(e.largestMap);
        this.checkEpoch(e.frame);
        this.flushHelperLost();
        this.emit({ type: 'snapshot', seq: this.seq++, t: this.now(), ms: e.ms, ...(e.frame.final ? { final: true } : {}), ...d });
        if (this.seq % 5 === 0) this.vms.checkGone();
        return;
      }
      case 'lost':
        this.emit({ type: 'lost', t: this.now(), events: e.events });
        return;
      case 'helper_error':
        this.onHelperError(e.helper, e.retcode, e.message, e.line);
        return;
      case 'exit':
        this.emit({ type: 'exit', t: this.now(), ...e.exit });
        return;
      case 'text':
        this.onStderr(e.line);
        return;
      case 'attached':
      case 'attached_probes':
        return;
    }
  }

  /** Stops bpftrace (SIGINT: it prints the final totals), then ends the stream. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.vmPoll) clearInterval(this.vmPoll);
    const child = this.child;
    if (child) {
      let timer: NodeJS.Timeout | undefined;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      }
      // even if it has exited already: its last output may still be in the pipe
      await this.exitPromise;
      if (timer) clearTimeout(timer);
    }
    this.flushHelperLost();
    this.emit({ type: 'end', t: this.now(), complete: this.sawFinal });
    rmSync(this.dir, { recursive: true, force: true });
    if (this.rawLog !== undefined) closeSync(this.rawLog);
  }

  /** Exit counts by VM from a program that keys them by thread (dialect.ts threadKeys): tid 0, as asked. */
  private readonly exitsToVm: boolean;
  private helperErrorsSaid = new Set<string>();
  /** The program's lines: bpftrace's helper errors name the line (1-based) of the call that failed. */
  private programLines: string[] = [];
  /** Counts the kernel did not keep since the last snapshot: one `lost` message for them, before it. */
  private helperLost = 0;

  /**
   * A helper call that failed in the kernel. A failed update of a counting map (bpftrace 0.23 names
   * the program line) is a count bpftrace did not keep: a lost event (the report and /metrics say
   * counts are incomplete), summed into one message per interval. Any other (the detail stream's
   * counter) loses no count. Said once per kind: the program's keys by thread (probes/dialect.ts)
   * are there so that it does not happen, and a full map would say it for every new key.
   */
  private onHelperError(helper: string, retcode: number, message: string, line: number | undefined): void {
    const text = line === undefined ? undefined : this.programLines[line - 1];
    // a line we cannot place is taken as a count: better a count said lost than a loss unsaid
    const count = helper === 'map_update_elem' && (text === undefined || COUNTING_UPDATE.test(text));
    if (count) this.helperLost++;
    const kind = `${helper} ${retcode} ${count}`;
    if (this.helperErrorsSaid.has(kind)) return;
    this.helperErrorsSaid.add(kind);
    this.onStderr(`bpftrace: ${helper} failed in the kernel (${message}, ${retcode})${count ? ': a count was not kept, counted as lost' : ''}${text ? `: ${text.trim()}` : ''}`);
  }

  /** The counts the kernel did not keep, as one lost message (before the next snapshot, and at the end). */
  private flushHelperLost(): void {
    if (this.helperLost === 0) return;
    this.emit({ type: 'lost', t: this.now(), events: this.helperLost });
    this.helperLost = 0;
  }

  private childSawFinal = false;
  private warnedFull = false;

  /** bpftrace stops adding keys to a full map, silently: say so before it happens. */
  private checkMapFill(keys: number): void {
    if (this.warnedFull || keys < 0.8 * this.mapKeysMax) return;
    this.warnedFull = true;
    this.emit({ type: 'error', t: this.now(), code: 'MAPS_NEARLY_FULL', message: `a bpftrace map holds ${keys} of at most ${this.mapKeysMax} keys (the VMs x vCPUs x reasons of the last intervals, or 2 MiB regions faulted in); beyond that new keys are not counted. Set EXITSCOPE_MAP_KEYS_MAX higher (memory: docs/lab.md#bounded-maps).` });
  }

  private lastActive: number | undefined;
  /** Frames in a row that printed the same active copy and cleared none (rotateEvery - 1 between two moves). */
  private sameActive = 0;
  private epochWaits = 0;

  /**
   * The epoch moves on every rotateEvery intervals (program.ts) unless bpftrace's user space has not
   * yet cleared the copy it would move into (it lags): counts stay exact, keys just live an interval
   * longer. Said once, then every 100th time, for --verbose.
   */
  private checkEpoch(frame: SnapshotFrame): void {
    if (frame.active === undefined) return;
    if (frame.active === this.lastActive && frame.cleared === undefined) {
      if (++this.sameActive >= this.rotateEvery && this.epochWaits++ % 100 === 0) this.o.onDiagnostic?.(`exitscope: the epoch waited for bpftrace to clear a copy of its maps (${this.epochWaits} time(s)); counts stay exact`);
    } else this.sameActive = 0;
    this.lastActive = frame.active;
  }

  private cleanupAfterFailedStart(): void {
    if (this.vmPoll) clearInterval(this.vmPoll);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** We will stop soon (Ctrl-C reached us and bpftrace): a bpftrace that exits now is not restarted. */
  interrupted(): void {
    this.noRestart = true;
  }
  private noRestart = false;

  /** Keys the delta stage remembers now (bounded by the copies in use: tests and benchmarks read it). */
  get rememberedKeys(): number {
    return this.reader.rememberedKeys();
  }

  /** bpftrace's pid (for tests that kill it). */
  get bpftracePid(): number | undefined {
    return this.child?.pid;
  }
}

/**
 * Entries in the fullest map of a frame: a count map's keys, a histogram's buckets (bpftrace keeps
 * one map entry per key and bucket, and the cap counts those).
 */
export function largestMap(frame: Frame): number {
  let most = 0;
  for (const c of frame.copies.values()) {
    // as the kernel holds them: keys by thread not yet added up (bpftrace-output.ts CopyMaps.raw)
    for (const f of ['exits', 'faults', 'regions', 'handlerCalls'] as const) most = Math.max(most, c.raw[f]?.keys ?? c[f].size);
    for (const f of ['exitNs', 'handlerNs'] as const) {
      let n = 0;
      for (const b of c[f].values()) n += b.length;
      most = Math.max(most, c.raw[f]?.buckets ?? n);
    }
  }
  return most;
}
