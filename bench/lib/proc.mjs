// What the benchmarks read of a process from /proc: its CPU time and its children. One reading of
// stat(5) for every script that measures a process by it.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** utime + stime of a process (all its threads), in seconds; NaN once it is gone. USER_HZ is 100 on Linux. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the name may hold spaces
    return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15 of stat(5)
  } catch {
    return NaN;
  }
}

/** The pids of a process's children. */
export const childrenOf = (pid) => spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);

/** Those of `pids` whose command name is `comm`. */
export const named = (pids, comm) =>
  pids.filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm;
    } catch {
      return false;
    }
  });
