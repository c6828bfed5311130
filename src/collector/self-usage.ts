/**
 * The collector's own cost, as the terminal header and the `collector` server message show it:
 * the exitscope process's CPU (user + system, process.cpuUsage deltas) as a fraction of one core
 * since the previous reading, over the monotonic clock, and its resident memory. bpftrace's own
 * process and the BPF programs' time in the kernel are not in it. The one place this is measured:
 * the dashboard (ui/dashboard.tsx) and the live server (src/server/start.ts) both read it here.
 */

export interface SelfUsage {
  /** CPU time over elapsed time since the previous reading: 1 is one core busy. */
  cpu: number;
  rssBytes: number;
  /** The span the CPU figure covers, in ms. */
  ms: number;
}

export interface SelfUsageSources {
  /** Nanoseconds, monotonic. */
  clock: () => bigint;
  /** Microseconds of CPU (user, system) since the process started. */
  cpuUsage: () => { user: number; system: number };
  rss: () => number;
}

const PROCESS: SelfUsageSources = { clock: () => process.hrtime.bigint(), cpuUsage: () => process.cpuUsage(), rss: () => process.memoryUsage.rss() };

/** A meter: each call says the usage since the previous call (the first: since the meter was made). */
export function selfUsageMeter(s: SelfUsageSources = PROCESS): () => SelfUsage {
  let lastCpu = s.cpuUsage();
  let lastAt = s.clock();
  return () => {
    const at = s.clock();
    const cpu = s.cpuUsage();
    const us = Number(at - lastAt) / 1000;
    const used = cpu.user - lastCpu.user + (cpu.system - lastCpu.system);
    lastCpu = cpu;
    lastAt = at;
    return { cpu: us > 0 ? Math.max(0, used) / us : 0, rssBytes: s.rss(), ms: us / 1000 };
  };
}
