// What a host with N VMs counts in interval i: shared by bench/metrics-scrape.mjs (part B feeds these
// as snapshot messages, part C's bpftrace stand-in counts them into its maps and prints them).
// N VMs x 2 vCPUs x 12 exit reasons; every latency histogram takes 4 buckets an interval over a
// 9-bucket range (16 us..4 ms, as in the lab); 2 fault kinds and one handler per VM. With every > 1,
// VM v moves only in the intervals i with v % every = i % every (the others count nothing).

// 12 SVM reasons a busy guest takes: IOIO, HLT, NPF, CPUID, MSR, INTR, NMI, RDTSC, PAUSE, VINTR, XSETBV, RDTSCP
export const REASONS = [0x7b, 0x78, 0x400, 0x72, 0x7c, 0x60, 0x61, 0x6e, 0x77, 0x64, 0x8d, 0x87];
export const pidOf = (v) => 10_000 + v * 10;
/** Part C's VMs: above any kernel's pid_max (4,194,304), so never a real process; bench/fleet-proc.mjs shows them. */
export const fakePidOf = (v) => 5_000_000 + v * 10;

export function snapshot(vms, i, every = 1, pidOfVm = pidOf) {
  const s = { type: 'snapshot', seq: i, t: (i + 1) * 1000, ms: 1000, exits: [], exitNs: [], faults: [], regions: [], handlers: [] };
  for (let v = 0; v < vms; v++) {
    if (v % every !== i % every) continue;
    const pid = pidOfVm(v);
    REASONS.forEach((reason, r) => {
      const n = 50 + ((v * 7 + r * 13 + i) % 200);
      s.exits.push({ pid, tid: pid + 1, isa: 2, reason, n }, { pid, tid: pid + 2, isa: 2, reason, n: n >> 1 });
      s.exitNs.push({ pid, isa: 2, reason, b: [[16384, n >> 2], [32768, n], [65536, n >> 1], [131072 * 2 ** ((v + r + i) % 5), 1 + (n >> 1)]] });
    });
    s.faults.push({ pid, code: 0x2, n: 40 + (i % 7) }, { pid, code: 0x9, n: 3 });
    s.handlers.push({ pid, h: 0, n: 43 + (i % 7), b: [[4096, 30], [8192, 13 + (i % 7)]] });
  }
  return s;
}
