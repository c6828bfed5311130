// Short-lived VMs, one after another (a CI farm; the lab's soak, test/e2e/soak-lab.test.ts, natively):
// PER VMs start each interval and each counts for LIFETIME intervals, then its process ends. Shared
// by bench/fleet-bpftrace.mjs (FLEET_CHURN: what it counts and prints, and the fake /proc it keeps)
// and bench/run-memory.mjs (which drives `exitscope run`'s pipeline over them).
//
// Each VM is the lab's workload (exitscope-workload io 20 --vcpus 2, as the soak's reports show it):
// 2 vCPU threads, IOIO, NPF, HLT and INTR exits, exit latencies in 3 log2 buckets, 2 page-fault
// kinds, the TDP handler. Every UNSEEN-th VM never has a /proc entry: it ended between two of the
// tracker's looks, as more than half of the soak's VMs did (its report names them `pid N`).
export const CHURN_REASONS = [0x7b, 0x400, 0x78, 0x60];

/** FLEET_CHURN="PER:LIFETIME:UNSEEN" (e.g. 15:3:2) → the schedule; undefined when not set. */
export function churnOf(text) {
  if (!text) return undefined;
  const [per, lifetime, unseen] = text.split(':').map(Number);
  if (!(per >= 1 && lifetime >= 1 && unseen >= 0)) throw new Error(`FLEET_CHURN must be PER:LIFETIME:UNSEEN, not ${text}`);
  return { per, lifetime, unseen };
}

/** The VMs that start in interval i: [from, to). */
export const startingIn = (i, c) => ({ from: i * c.per, to: (i + 1) * c.per });
/** The VMs whose last interval is i (they end after it): [from, to). */
export const endingAfter = (i, c) => startingIn(i - c.lifetime + 1, c);
/** Whether VM v ever shows in /proc (false: it lived between two of the tracker's polls). */
export const seenInProc = (v, c) => c.unseen === 0 || v % c.unseen !== 0;

/** What the VMs count in interval i, as fleet-intervals.mjs's snapshot() (the same message shape). */
export function churnSnapshot(i, c, pidOfVm) {
  const s = { type: 'snapshot', seq: i, t: (i + 1) * 1000, ms: 1000, exits: [], exitNs: [], faults: [], regions: [], handlers: [] };
  const first = Math.max(0, (i - c.lifetime + 1) * c.per);
  for (let v = first; v < (i + 1) * c.per; v++) {
    const pid = pidOfVm(v);
    CHURN_REASONS.forEach((reason, r) => {
      const n = 1 + ((v * 7 + r * 13 + i) % 11);
      s.exits.push({ pid, tid: pid + 1, isa: 2, reason, n }, { pid, tid: pid + 2, isa: 2, reason, n: 1 + (n >> 1) });
      s.exitNs.push({ pid, isa: 2, reason, b: [[16384, n >> 1], [32768, 1 + (n >> 1)], [65536 * 2 ** ((v + r + i) % 3), 1 + (n >> 2)]] });
    });
    s.faults.push({ pid, code: 0x2, n: 3 + (i % 5) }, { pid, code: 0x9, n: 1 });
    s.handlers.push({ pid, h: 0, n: 4 + (i % 5), b: [[4096, 3], [8192, 1 + (i % 5)]] });
  }
  return s;
}
