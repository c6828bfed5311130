/**
 * Builds the bpftrace program exitscope runs: all probes in one process,
 * aggregating in kernel maps and printing them every interval between two
 * markers (no per-event output on the hot path). The collector takes deltas
 * of the printed values, which keeps counts exact: clearing a map right after
 * printing it would race with updates on other CPUs.
 *
 * Bounded maps (a service runs for months while VMs come and go): every
 * counting map exists in COPIES copies (@exits0, @exits1, @exits2). Probes
 * write to the copy of the current epoch (@epoch, one more map lookup per
 * event); every rotation (each interval, or each second below 1 s: see
 * rotateEvery) the epoch moves on, the copy it leaves is printed
 * once more, complete, at the next interval and then cleared (bpftrace's
 * clear() runs in its user space, after that print, in queue order). Nothing
 * writes to that copy any more, so the clear loses nothing, and the keys of
 * VMs and threads that are gone leave the kernel within COPIES rotations.
 * The epoch never moves into a copy whose clear user space has not done yet:
 * @pendingN is set with the clear (to the interval's time) and cleared with it (in the same queue,
 * after the maps), so a lagging bpftrace makes the epoch wait (the copy it
 * is in keeps counting, exactly) instead of racing. The begin marker names
 * the active copy and the one cleared after this print: deltas.ts forgets
 * that copy's values. Threads that die between kvm_exit and kvm_entry (or in
 * a handler) leave their start times: sched_process_exit deletes them.
 *
 * The exporter without --metrics-vcpu keys @exits by VM (exitsByThread false: tid 0 in the
 * thread's place), half the keys at 2 vCPUs; every stream (top, run, serve) keeps the thread.
 *
 * Only validated numbers and names from our own allow-list (HANDLERS) are
 * put into the text; nothing a user typed is pasted in.
 * probes/*.bt are this builder's output for the default options (scripts/gen-probes.mjs).
 */
import { HANDLERS } from './capabilities.js';
import { deleteEntry, kernelTypeLines, PORTABLE_DIALECT, type ProgramDialect } from './dialect.js';

export interface ProgramOptions {
  intervalMs: number;
  /** Count exits per VM, vCPU and reason (default true; the standalone probes/ scripts turn parts off). */
  exits?: boolean;
  /**
   * Key @exits by thread (default true): [pid, tid, isa, reason], the stream's `exits[].tid`. false:
   * [pid, 0, isa, reason], one key per VM and reason (tid 0, the idle task's, which never runs a
   * vCPU, stands for every thread of the VM): half the keys at 2 vCPUs, an eighth at 8. Only the
   * exporter without --metrics-vcpu asks for it: it sends no stream, and its metrics have no vCPU.
   * The latency's start time stays keyed by tid (one vCPU thread's exit and entry).
   */
  exitsByThread?: boolean;
  /** Count only these host pids (VM processes); empty for all. */
  pids?: readonly number[];
  /**
   * Count only threads in these cgroups (cgroup v2 ids: --cgroup and its sub-cgroups, or the cgroup
   * of `run --scope`), as decimal strings (u64); empty for all. src/scope/ resolves them from paths.
   */
  cgroupIds?: readonly string[];
  /** Count only these raw exit_reason values; empty for all. */
  reasons?: readonly number[];
  /** kvm:kvm_entry is available: exit-handling latency. */
  latency: boolean;
  /** kvm:kvm_page_fault is available. */
  pageFaults: boolean;
  /** Handlers to kprobe (a subset of HANDLERS). */
  handlers: readonly string[];
  /** Optional detail stream: at most this many individual exits printed per interval. */
  detailPerInterval?: number;
  /**
   * Copies of each counting map, rotated by epoch (default COPIES): the maps hold only the keys of
   * the last few intervals. 1: one cumulative map each, never cleared (the standalone probes/ scripts,
   * which a person reads as totals).
   */
  copies?: number;
  /** The forms this machine's bpftrace and kernel need (dialect.ts: dialectFor(caps)); default PORTABLE_DIALECT. */
  dialect?: ProgramDialect;
}

/** Copies of each counting map: 3 lets user space lag almost a whole rotation (rotateEvery) before the epoch waits. */
export const COPIES = 3;

/**
 * Markers the program prints around each interval's maps. With copies, begin is
 * `exitscope:begin NSECS ACTIVE CLEARED`: the copy probes write to now, and the copy cleared
 * right after this print (`-` when none). With copies, final is `exitscope:final NSECS P0 P1 ...`:
 * per copy, its @pending value when END ran: the NSECS of the begin marker whose clear of that copy
 * was not done yet, else 0.
 */
export const MARK = { attached: 'exitscope:attached', begin: 'exitscope:begin', end: 'exitscope:end', final: 'exitscope:final', exit: 'exitscope:exit' } as const;

/** Map names, with their units, as they appear in bpftrace's output. */
export const MAPS = {
  exits: '@exits', // [pid, tid, isa, exit_reason] -> count ([pid, 0, isa, exit_reason] with exitsByThread false)
  exitNs: '@exit_ns', // [pid, isa << 32 | exit_reason] -> hist of ns from kvm_exit to the next kvm_entry
  faults: '@faults', // [pid, error_code] -> count
  faultRegions: '@fault_regions_2m', // [pid, fault_address >> 21] -> count
  handlerCalls: '@handler_calls', // [pid, handler index] -> count
  handlerNs: '@handler_ns', // [pid, handler index] -> hist of ns in the handler
  detailSent: '@detail_sent',
} as const;
// With dialect.threadKeys (bpftrace 0.20-0.23, dialect.ts) every one is keyed by thread too: @exits by
// its real tid whatever exitsByThread says, the others [pid, tid, ...]: the readers add the threads up.

/** The counting maps, in the order they are printed. */
export const COUNTING_MAPS = [MAPS.exits, MAPS.exitNs, MAPS.faults, MAPS.faultRegions, MAPS.handlerCalls, MAPS.handlerNs] as const;
/**
 * The epoch's state: the active copy, whether the one before it still needs its last print, clears
 * in flight, and intervals since the last move (only when rotateEvery > 1).
 */
export const EPOCH = { active: '@epoch', closing: '@closing', pending: '@pending', tick: '@tick' } as const;

const ALLOWED_HANDLERS = new Set<string>([...HANDLERS.tdp, ...HANDLERS.shadow]);

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in ${min}..${max}, not ${v}`);
  return v;
}

/** A cgroup v2 id: a u64 in decimal, nothing else (it is inserted into the program text). */
export function checkCgroupId(v: string): string {
  if (typeof v !== 'string' || !/^[1-9]\d{0,19}$/.test(v) || BigInt(v) > 0xffffffffffffffffn) throw new RangeError(`cgroup id must be a decimal u64 above 0, not ${JSON.stringify(v)}`);
  return v;
}

function orOf(expr: string, values: readonly (number | string)[]): string {
  return values.map((v) => `${expr} == ${v}`).join(' || ');
}

function predicate(...parts: (string | undefined)[]): string {
  const p = parts.filter((x): x is string => x !== undefined && x.length > 0).map((x) => `(${x})`);
  return p.length ? ` /${p.join(' && ')}/` : '';
}

export interface Program {
  text: string;
  /** Handler names by index, as used in @handler_* keys. */
  handlers: string[];
  /** Intervals between two moves of the epoch (rotateEvery): the collector tells a wait from the rhythm by it. */
  rotateEvery: number;
}

/** The epoch moves at most once a second (ROTATION_MS), however short the interval: every 1 to 2 s below 1 s. */
export const ROTATION_MS = 1000;

/**
 * Intervals between two moves of the epoch: 1 at 1 s and above, ceil(1000 / interval) below.
 * Each move costs one more print of every counting map (the copy left, at the next interval) and
 * a clear of it: at -i 250, moving every interval had bpftrace print each map twice per interval
 * and clear one copy, all of it work in bpftrace's and the collector's user space that grows with
 * the keys. Moving once a second (at -i 250; every 1 to 2 s for intervals that do not divide a
 * second) prints each map once per interval plus once per move, and the keys of VMs gone leave the
 * kernel within COPIES moves (3 s at -i 250) instead of COPIES intervals.
 */
export function rotateEvery(intervalMs: number): number {
  return Math.max(1, Math.ceil(ROTATION_MS / intervalMs));
}

export function buildProgram(o: ProgramOptions): Program {
  checkInt('interval', o.intervalMs, 10, 3_600_000);
  const copies = checkInt('copies', o.copies ?? COPIES, 1, 8);
  const rotate = copies === 1 ? 1 : rotateEvery(o.intervalMs);
  const pids = (o.pids ?? []).map((p) => checkInt('pid', p, 1, 4_194_304));
  const reasons = (o.reasons ?? []).map((r) => checkInt('exit reason', r, 0, 0xffffffff));
  const cgroups = (o.cgroupIds ?? []).map(checkCgroupId);
  for (const h of o.handlers) if (!ALLOWED_HANDLERS.has(h)) throw new Error(`unknown handler ${JSON.stringify(h)}`);
  const handlers = [...o.handlers];
  const dialect = o.dialect ?? PORTABLE_DIALECT;
  const del = (map: string, key: string): string => `${deleteEntry(map, key, dialect)};`;
  const pidFilter = pids.length ? orOf('pid', pids) : undefined;
  // the thread's own cgroup: exits and faults happen on the vCPU thread, kprobed handlers too
  const cgroupFilter = cgroups.length ? orOf('cgroup', cgroups) : undefined;
  const reasonFilter = reasons.length ? orOf('args->exit_reason', reasons) : undefined;
  /** A counting map's name in copy c. */
  const at = (map: string, c: number): string => (copies === 1 ? map : `${map}${c}`);
  /** A counting map's key: [pid, ...rest], or [pid, tid, ...rest] where two threads adding one key at once lose a count (dialect.ts). */
  const key = (...rest: string[]): string => [dialect.threadKeys ? 'pid, tid' : 'pid', ...rest].join(', ');
  /**
   * The lines of a probe that update counting maps: in the copy of the current epoch. One lookup
   * of @epoch per event, then a branch per copy (bpftrace has no map variables).
   */
  const inEpoch = (update: (c: number) => string[], indent = '  '): string[] => {
    if (copies === 1) return update(0).map((l) => indent + l);
    const out = [`${indent}$e = ${EPOCH.active};`];
    for (let c = 0; c < copies; c++) {
      out.push(c === 0 ? `${indent}if ($e == 0) {` : c < copies - 1 ? `${indent}} else if ($e == ${c}) {` : `${indent}} else {`);
      out.push(...update(c).map((l) => `${indent}  ${l}`));
    }
    out.push(`${indent}}`);
    return out;
  };

  const lines: string[] = [];
  lines.push('// generated by exitscope (src/probes/program.ts)');
  // before any probe: clang reads them ahead of the tracepoint structs bpftrace builds from tracefs
  if (dialect.kernelTypes) lines.push('// no BTF for the kvm module: the kernel integer types its tracepoint formats use', ...kernelTypeLines());
  // BEGIN runs once every probe is attached: counting starts here (its time starts the first interval).
  lines.push('BEGIN { printf("exitscope:attached %lu\\n", nsecs); }', '');

  const countExits = o.exits ?? true;
  if (countExits || o.latency) {
    // The fields are read once, up front: LLVM would otherwise keep a ctx pointer plus offset across
    // the epoch's branches, which the verifier refuses ("dereference of modified ctx ptr", seen on 6.1).
    lines.push(`tracepoint:kvm:kvm_exit${predicate(pidFilter, cgroupFilter, reasonFilter)}`, '{', '  $isa = args->isa;', '  $reason = args->exit_reason;');
    const thread = o.exitsByThread === false && !dialect.threadKeys ? '0' : 'tid';
    if (countExits) lines.push(...inEpoch((c) => [`${at(MAPS.exits, c)}[pid, ${thread}, $isa, $reason] = count();`]));
    // one map update per exit: the start time and the reason together (a tuple value)
    if (o.latency) lines.push('  @exit_start[tid] = (nsecs, ((uint64)$isa << 32) | $reason);');
    lines.push('}', '');
  }

  if (o.detailPerInterval !== undefined) {
    const limit = checkInt('detail rate', o.detailPerInterval, 1, 100_000);
    lines.push(`tracepoint:kvm:kvm_exit${predicate(pidFilter, cgroupFilter, reasonFilter, `${MAPS.detailSent} < ${limit}`)}`, '{');
    lines.push(`  ${MAPS.detailSent}++;`);
    lines.push(`  printf("${MARK.exit} %d %d %d %u %lu %lu %lu\\n", pid, tid, args->isa, args->exit_reason, args->guest_rip, args->info1, args->info2);`);
    lines.push('}', '');
  }

  if (o.latency) {
    // a missing key reads as (0, 0): an entry with no exit seen before it (the first after attach).
    // No filter here: only threads whose kvm_exit passed the filters have a start (the kretprobes alike)
    lines.push('tracepoint:kvm:kvm_entry', '{', '  $s = @exit_start[tid];', '  if ($s.0 != 0) {');
    lines.push(...inEpoch((c) => [`${at(MAPS.exitNs, c)}[${key('$s.1')}] = hist(nsecs - $s.0);`], '    '));
    lines.push(`    ${del('@exit_start', 'tid')}`, '  }', '}', '');
  }

  if (o.pageFaults) {
    lines.push(`tracepoint:kvm:kvm_page_fault${predicate(pidFilter, cgroupFilter)}`, '{', '  $code = args->error_code;', '  $region = args->fault_address >> 21;');
    lines.push(...inEpoch((c) => [`${at(MAPS.faults, c)}[${key('$code')}] = count();`, `${at(MAPS.faultRegions, c)}[${key('$region')}] = count();`]));
    lines.push('}', '');
  }

  handlers.forEach((h, i) => {
    lines.push(`kprobe:${h}${predicate(pidFilter, cgroupFilter)}`, '{', `  @h${i}_start[tid] = nsecs;`, '}');
    lines.push(`kretprobe:${h} /@h${i}_start[tid]/`, '{');
    lines.push(...inEpoch((c) => [`${at(MAPS.handlerCalls, c)}[${key(String(i))}] = count();`, `${at(MAPS.handlerNs, c)}[${key(String(i))}] = hist(nsecs - @h${i}_start[tid]);`]));
    lines.push(`  ${del(`@h${i}_start`, 'tid')}`, '}', '');
  });

  // A thread that dies between kvm_exit and kvm_entry (a VM shutting down), or inside a handler,
  // leaves its start time behind: without this, one key per vCPU thread ever seen stays in the map.
  const startMaps = [...(o.latency ? ['@exit_start'] : []), ...handlers.map((_, i) => `@h${i}_start`)];
  if (startMaps.length) lines.push('tracepoint:sched:sched_process_exit', '{', ...startMaps.map((m) => `  ${del(m, 'tid')}`), '}', '');

  const printed = [...(countExits ? [MAPS.exits] : []), ...(o.latency ? [MAPS.exitNs] : []), ...(o.pageFaults ? [MAPS.faults, MAPS.faultRegions] : []), ...(handlers.length ? [MAPS.handlerCalls, MAPS.handlerNs] : [])];
  const prints = (c: number): string[] => printed.map((m) => `print(${at(m, c)});`);
  const intervalProbe = o.intervalMs % 1000 === 0 ? `interval:s:${o.intervalMs / 1000}` : `interval:ms:${o.intervalMs}`;
  lines.push(`${intervalProbe}`, '{');
  if (copies === 1) lines.push(`  printf("${MARK.begin} %lu\\n", nsecs);`, ...prints(0).map((l) => `  ${l}`), `  printf("${MARK.end}\\n");`);
  else lines.push(...rotation(copies, rotate, prints, (c) => printed.map((m) => `clear(${at(m, c)});`)));
  if (o.detailPerInterval !== undefined) lines.push(`  ${MAPS.detailSent} = 0;`);
  lines.push('}', '');

  // The final dump: everything counted until bpftrace was stopped. Then clear every map,
  // so that bpftrace's own dump at exit prints nothing we would have to skip.
  const allCopies = Array.from({ length: copies }, (_, c) => c);
  const state = copies === 1 ? [] : [EPOCH.active, EPOCH.closing, ...(rotate > 1 ? [EPOCH.tick] : []), ...allCopies.map((c) => `${EPOCH.pending}${c}`)];
  const temporaries = [...startMaps, ...(o.detailPerInterval !== undefined ? [MAPS.detailSent] : []), ...state];
  // With copies, the final marker also gives each copy's @pendingN, read in the kernel as END runs:
  // the time of the interval whose clear of it was not done yet. bpftrace drops the rest of the
  // events it is reading when SIGINT comes, so an interval's print can reach us and the clear queued
  // after it never happen; that copy prints here once more with what was already counted, and the
  // time says which print it was (deltas.ts ClearedCopies).
  const pendingFlags = copies === 1 ? '' : allCopies.map(() => ' %lu').join('');
  const pendingArgs = copies === 1 ? '' : allCopies.map((c) => `, ${EPOCH.pending}${c}`).join('');
  lines.push('END', '{', `  printf("${MARK.final} %lu${pendingFlags}\\n", nsecs${pendingArgs});`, ...allCopies.flatMap(prints).map((l) => `  ${l}`), `  printf("${MARK.end}\\n");`);
  lines.push(...allCopies.flatMap((c) => printed.map((m) => `  clear(${at(m, c)});`)), ...temporaries.map((m) => `  clear(${m});`), '}');
  return { text: `${lines.join('\n')}\n`, handlers, rotateEvery: rotate };
}

/**
 * The interval probe's body with copies: print the active copy (and the one it took over from,
 * whose last print this is), clear that one, then move the epoch on if the next copy is free and,
 * with every > 1, this is the every-th interval since the last move (a wait carries on trying).
 * Every branch is spelled out: print() and clear() take a map, not an expression.
 */
function rotation(copies: number, every: number, prints: (c: number) => string[], clears: (c: number) => string[]): string[] {
  // one time for the marker and the pending flag: END's marker names the interval by it
  const out = ['  $now = nsecs;', `  $e = ${EPOCH.active};`, `  $c = ${EPOCH.closing};`];
  // a map, not a scratch variable: bpftrace 0.23 types `$t = @tick + 1` uint64 and then refuses `@tick = $t`
  if (every > 1) out.push(`  ${EPOCH.tick} = ${EPOCH.tick} + 1;`);
  for (let e = 0; e < copies; e++) {
    const prev = (e + copies - 1) % copies;
    const next = (e + 1) % copies;
    out.push(e === 0 ? '  if ($e == 0) {' : e < copies - 1 ? `  } else if ($e == ${e}) {` : '  } else {');
    out.push('    if ($c != 0) {');
    out.push(`      printf("${MARK.begin} %lu ${e} ${prev}\\n", $now);`, ...[...prints(e), ...prints(prev)].map((l) => `      ${l}`), `      printf("${MARK.end}\\n");`);
    // queued after the print, done by bpftrace's user space in this order: the maps, then the flag
    out.push(`      ${EPOCH.pending}${prev} = $now;`, ...clears(prev).map((l) => `      ${l}`), `      clear(${EPOCH.pending}${prev});`);
    out.push('    } else {');
    out.push(`      printf("${MARK.begin} %lu ${e} -\\n", $now);`, ...prints(e).map((l) => `      ${l}`), `      printf("${MARK.end}\\n");`);
    out.push('    }');
    // a copy whose clear is still queued is not free: stay (and close nothing next time)
    const due = every === 1 ? '' : `${EPOCH.tick} >= ${every} && `;
    out.push(`    if (${due}${EPOCH.pending}${next} == 0) {`, `      ${EPOCH.active} = ${next};`, `      ${EPOCH.closing} = 1;`, ...(every === 1 ? [] : [`      ${EPOCH.tick} = 0;`]), '    } else {', `      ${EPOCH.closing} = 0;`, '    }');
  }
  out.push('  }');
  return out;
}
