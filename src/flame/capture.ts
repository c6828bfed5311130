/**
 * Takes one flame snapshot: runs the sampling program for the chosen time,
 * reads the stacks it printed and turns them into a FlameProfile (context
 * frames named, symbols classified as user, kernel or KVM). Cancellable: an
 * aborted capture stops bpftrace and resolves to nothing, so no file is written.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { Capabilities } from '../probes/capabilities.js';
import { dialectFor } from '../probes/dialect.js';
import { readProcess } from '../collector/vm-names.js';
import { spawnTracer } from '../process/tracer-process.js';
import { vmPidsFromDebugfs } from '../collector/vm-tracker.js';
import { decodeExitReason } from '../model/exit-reasons.js';
import { type RawSample, parseStacksOutput } from './bpftrace-stacks.js';
import { type FlameProfile, type Frame, type Stack, isKvmSymbol, kvmSymbolsFromKallsyms, makeProfile } from './profile.js';
import { END_CHECK_MS, FLAME_MARK, IN_GUEST, buildFlameProgram } from './program.js';
import type { CgroupScope } from '../scope/cgroup-target.js';

export interface CaptureOptions {
  seconds: number;
  hz: number;
  /** VM processes to sample; empty: every thread that takes KVM exits. */
  pids: number[];
  /** Sample only threads in these cgroups (ids from src/scope/; --cgroup); absent for all. */
  cgroupIds?: readonly string[];
  /** How the scope reads in titles ("all VMs", "VM ci-3"). */
  scope: string;
  /** Root frame with the exit being handled (needs kvm:kvm_entry). */
  reasons: boolean;
  userStacks: boolean;
  /** Define the kernel's integer types in the program (no kvm module BTF: probes/dialect.ts). */
  kernelTypes?: boolean;
  bpftrace?: string;
  kernel?: string;
  signal?: AbortSignal;
  /** Called when sampling starts and about every 250 ms while it runs, then once when resolving. */
  onProgress?: (p: { phase: 'attaching' | 'sampling' | 'resolving'; elapsed: number; seconds: number }) => void;
  onDiagnostic?: (line: string) => void;
  /** Override ATTACH_TIMEOUT_MS / RESOLVE_TIMEOUT_MS (tests). */
  attachTimeoutMs?: number;
  resolveTimeoutMs?: number;
  /** For tests: where kallsyms and /proc are. */
  kallsyms?: string;
  proc?: string;
}

/** How a capture's scope reads in titles: "VM ci-3", "pid 12, 34" or "all VMs". */
export function flameScope(pids: readonly number[], vm?: string, cgroup?: string): string {
  const who = vm !== undefined ? `VM ${vm}` : pids.length ? `pid ${pids.join(', ')}` : 'all VMs';
  return cgroup !== undefined ? `${who} in cgroup ${cgroup}` : who;
}

/** The options every caller derives the same way from the machine and the traced VMs (flame, f, serve). */
export function captureTarget(caps: Capabilities, pids: number[], vm?: string, cgroup?: CgroupScope): Pick<CaptureOptions, 'pids' | 'cgroupIds' | 'scope' | 'reasons' | 'bpftrace' | 'kernel' | 'kernelTypes'> {
  return { pids, ...(cgroup ? { cgroupIds: cgroup.ids } : {}), scope: flameScope(pids, vm, cgroup?.path), reasons: caps.tracepoints.kvm_entry !== undefined, ...(caps.bpftrace ? { bpftrace: caps.bpftrace.path } : {}), kernel: caps.kernel, kernelTypes: dialectFor(caps).kernelTypes };
}

/** The root frame for a sample's exit state. */
export function stateFrame(state: bigint): string {
  if (state === BigInt(IN_GUEST)) return '[guest mode]';
  const isa = Number(state >> 32n);
  const raw = Number(state & 0xffffffffn);
  return `[exit ${decodeExitReason(isa, raw).name}]`;
}

export interface ToStacksOptions {
  reasons: boolean;
  vmName: (pid: number) => string;
  kvmSymbols?: ReadonlySet<string>;
}

/** Raw samples to stacks, root first: [exit X], [vm NAME], [THREAD], user frames, kernel frames. */
export function toStacks(samples: readonly RawSample[], o: ToStacksOptions): Stack[] {
  return samples.map((s) => {
    const frames: Frame[] = [];
    if (o.reasons) frames.push({ name: stateFrame(s.state), kind: 'context' });
    frames.push({ name: `[vm ${o.vmName(s.pid)}]`, kind: 'context' });
    frames.push({ name: `[${s.comm || `tid of ${s.pid}`}]`, kind: 'context' });
    for (const u of [...s.user].reverse()) frames.push({ name: u, kind: 'user' });
    for (const k of [...s.kernel].reverse()) frames.push({ name: k, kind: isKvmSymbol(k, o.kvmSymbols) ? 'kvm' : 'kernel' });
    return { frames, count: s.count };
  });
}

function readKvmSymbols(path: string): Set<string> | undefined {
  try {
    return kvmSymbolsFromKallsyms(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

export interface Capture {
  profile: FlameProfile;
  /** bpftrace's own output lines (--raw: bug reports, fixtures). */
  raw: readonly string[];
}

/** How long bpftrace may take to attach, and to print the stacks once the time is up, before it counts as stuck. */
export const ATTACH_TIMEOUT_MS = 180_000;
// Printing took 2-20 s in the lab (an emulated CPU). Captures that hung for minutes were bpftrace
// missing our SIGINT (see program.ts: the program now ends itself), not slow printing.
export const RESOLVE_TIMEOUT_MS = 120_000;

/**
 * The time bpftrace gets to print the stacks: at least `base`, and more on a slow machine. Printing
 * means compiling nothing but resolving every stack's symbols, work of the same kind as attaching
 * (which loads and checks the program): a machine that took long to attach (an emulated CPU, a
 * host under load) takes long to print too, and is not stuck.
 */
export function resolveDeadlineMs(attachTookMs: number, base = RESOLVE_TIMEOUT_MS): number {
  return Math.max(base, 4 * attachTookMs);
}

/** Resolves to the capture, or to undefined if aborted. Throws UserError when bpftrace cannot run or gets stuck. */
export async function captureFlame(o: CaptureOptions): Promise<Capture | undefined> {
  if (o.signal?.aborted) return undefined;
  const program = buildFlameProgram({ hz: o.hz, durationMs: Math.max(1, Math.round(o.seconds * 1000)), pids: o.pids, ...(o.cgroupIds ? { cgroupIds: o.cgroupIds } : {}), reasons: o.reasons, userStacks: o.userStacks, ...(o.kernelTypes ? { kernelTypes: true } : {}) });
  const names = new Map<number, string>();
  const nameOf = (pid: number): string => {
    let n = names.get(pid);
    if (n === undefined) {
      const p = readProcess(pid, o.proc);
      n = p ? `${p.name} (pid ${pid})` : `pid ${pid}`;
      names.set(pid, n);
    }
    return n;
  };
  // name the VMs now, while they run: one may be gone when the capture ends
  for (const pid of [...o.pids, ...vmPidsFromDebugfs()]) nameOf(pid);
  const startedAt = new Date().toISOString();
  const lines: string[] = [];
  const stderr: string[] = [];
  let rest = '';
  let attachedAt: number | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let stopTimer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  let stuck: string | undefined;
  let resolving = false;
  const resolvingNow = (): void => {
    if (resolving) return;
    resolving = true;
    if (ticker) clearInterval(ticker);
    o.onProgress?.({ phase: 'resolving', elapsed: o.seconds, seconds: o.seconds });
  };
  const dir = mkdtempSync(join(tmpdir(), 'exitscope-flame-'));
  try {
    const programFile = join(dir, 'flame.bt');
    writeFileSync(programFile, program);
    o.onProgress?.({ phase: 'attaching', elapsed: 0, seconds: o.seconds });
    // dies with exitscope whatever kills it, and leaves signal handling to our own handler (tracer-process.ts)
    const spawnedAt = Date.now();
    const child = spawnTracer(o.bpftrace ?? 'bpftrace', ['-f', 'json', programFile], {
      // a big map: every distinct stack is a key
      env: { BPFTRACE_MAP_KEYS_MAX: '65536', BPFTRACE_MAX_MAP_KEYS: '65536' },
      ...(o.signal ? { cancelSignal: o.signal, forceKillAfterDelay: 2000 } : {}),
    });
    const giveUp = (why: string): void => {
      stuck = why;
      child.kill('SIGKILL');
    };
    const attachMs = o.attachTimeoutMs ?? ATTACH_TIMEOUT_MS;
    const resolveMs = o.resolveTimeoutMs ?? RESOLVE_TIMEOUT_MS;
    deadline = setTimeout(() => giveUp(`bpftrace did not start sampling within ${attachMs / 1000} s`), attachMs);
    child.stdout?.on('data', (d: Buffer) => {
      const parts = (rest + d.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      for (const l of parts) {
        if (attachedAt === undefined && l.includes(FLAME_MARK.attached)) {
          attachedAt = Date.now();
          clearTimeout(deadline);
          // bpftrace's output reaches us once every probe is attached: the capture's time starts now, and
          // the program ends itself when it is up (END prints the stacks); from then on it is printing
          stopTimer = setTimeout(() => {
            resolvingNow();
            const printMs = resolveDeadlineMs((attachedAt ?? spawnedAt) - spawnedAt, resolveMs);
            deadline = setTimeout(() => giveUp(`bpftrace did not print the stacks within ${Math.round(printMs / 1000)} s of the end of the capture`), printMs);
          }, o.seconds * 1000 + END_CHECK_MS);
          ticker = setInterval(() => {
            const elapsed = Math.min(o.seconds, (Date.now() - (attachedAt ?? Date.now())) / 1000);
            o.onProgress?.({ phase: 'sampling', elapsed, seconds: o.seconds });
          }, 250);
          o.onProgress?.({ phase: 'sampling', elapsed: 0, seconds: o.seconds });
        }
        lines.push(l);
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      for (const l of d.toString('utf8').split('\n')) {
        if (!l.trim()) continue;
        stderr.push(l);
        if (stderr.length > 40) stderr.shift();
        o.onDiagnostic?.(l);
      }
    });
    const r = await child;
    clearTimeout(deadline);
    if (rest) lines.push(rest);
    if (o.signal?.aborted) return undefined;
    const done = lines.some((l) => l.includes(FLAME_MARK.done));
    if (!done) {
      const text = [...stderr, ...lines.filter((l) => !l.startsWith('{"type": "map"'))].slice(-8).join('\n');
      const why = stuck ?? (r.signal ? `bpftrace was killed by ${r.signal}` : `bpftrace exited with status ${r.exitCode}`);
      if (r.failed && /ENOENT/.test(String(r.message)))
        throw new UserError('NO_BPFTRACE', 'bpftrace is not installed', 'apt-get install bpftrace');
      if (/permission|EPERM|Operation not permitted/i.test(text)) throw new UserError('BPFTRACE_PERMISSION', `bpftrace may not load programs: ${text.split('\n')[0]}`, 'run exitscope as root');
      throw new UserError('FLAME_FAILED', `${why} before the snapshot was complete:\n${text.replace(/^/gm, '    ')}`, 'run `exitscope doctor`; profile:hz needs perf events (CONFIG_PERF_EVENTS) in the kernel');
    }
    // bpftrace may have printed before our timer said so (its clock and ours differ by a few ms)
    resolvingNow();
    const { samples } = parseStacksOutput(lines, o.userStacks);
    const kvmSymbols = readKvmSymbols(o.kallsyms ?? '/proc/kallsyms');
    const stacks = toStacks(samples, { reasons: o.reasons, vmName: nameOf, ...(kvmSymbols ? { kvmSymbols } : {}) });
    return { profile: makeProfile({ host: hostname(), kernel: o.kernel ?? 'unknown', startedAt, seconds: o.seconds, hz: o.hz, scope: o.scope }, stacks), raw: lines };
  } finally {
    if (ticker) clearInterval(ticker);
    if (stopTimer) clearTimeout(stopTimer);
    // also a deadline set by a timer that fired after bpftrace exited, before we resumed here
    if (deadline) clearTimeout(deadline);
    rmSync(dir, { recursive: true, force: true });
  }
}
