/**
 * The oracle: `perf stat` counting kvm tracepoints system-wide around a
 * command, inside the same guest. It is the kernel's own count, independent
 * of bpftrace and of exitscope, so every exitscope number is checked against it.
 */

/** Exit reasons the oracle counts one by one (SVM and VMX codes; one host has only one ISA). */
export const ORACLE_REASONS: readonly number[] = [
  // SVM (arch/x86/include/uapi/asm/svm.h)
  0x4e, 0x60, 0x72, 0x78, 0x7b, 0x7c, 0x7f, 0x400,
  // VMX (arch/x86/include/uapi/asm/vmx.h)
  0, 1, 10, 12, 30, 31, 32, 48, 49,
];

export interface OracleCounts {
  /** kvm:kvm_exit by exit_reason, for ORACLE_REASONS. */
  exitsByReason: Map<number, number>;
  exits: number;
  entries: number;
  pageFaults: number;
  mmio: number;
}

interface OracleEvent {
  event: string;
  filter?: string;
  key: { reason: number } | 'exits' | 'entries' | 'pageFaults' | 'mmio';
}

function events(reasons: readonly number[]): OracleEvent[] {
  return [
    { event: 'kvm:kvm_exit', key: 'exits' },
    { event: 'kvm:kvm_entry', key: 'entries' },
    { event: 'kvm:kvm_page_fault', key: 'pageFaults' },
    { event: 'kvm:kvm_mmio', key: 'mmio' },
    ...reasons.map((r): OracleEvent => ({ event: 'kvm:kvm_exit', filter: `exit_reason == ${r}`, key: { reason: r } })),
  ];
}

/** argv of `perf stat` around `command` (an argv), writing CSV to outFile. */
export function oracleArgv(command: string[], outFile: string, reasons = ORACLE_REASONS): string[] {
  for (const r of reasons) if (!Number.isInteger(r) || r < 0) throw new RangeError(`bad exit reason ${r}`);
  const args = ['perf', 'stat', '-x', ',', '-o', outFile, '-a'];
  for (const e of events(reasons)) {
    args.push('-e', e.event);
    if (e.filter) args.push('--filter', e.filter);
  }
  return [...args, '--', ...command];
}

/** Parses `perf stat -x,` output written for oracleArgv(…, reasons). */
export function parseOracle(csv: string, reasons = ORACLE_REASONS): OracleCounts {
  const rows = csv
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
  const evs = events(reasons);
  if (rows.length !== evs.length) throw new Error(`perf stat printed ${rows.length} counters, expected ${evs.length}:\n${csv}`);
  const out: OracleCounts = { exitsByReason: new Map(), exits: 0, entries: 0, pageFaults: 0, mmio: 0 };
  rows.forEach((row, i) => {
    const [value, , name] = row.split(',');
    const ev = evs[i] as OracleEvent;
    if (name !== ev.event) throw new Error(`perf stat row ${i} is ${name}, expected ${ev.event}: ${row}`);
    if (!/^\d+$/.test(value ?? '')) throw new Error(`perf stat could not count ${ev.event}${ev.filter ? ` (${ev.filter})` : ''}: ${row}`);
    const n = Number(value);
    if (typeof ev.key === 'object') out.exitsByReason.set(ev.key.reason, n);
    else out[ev.key] = n;
  });
  return out;
}
