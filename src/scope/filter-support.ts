/**
 * Can this machine filter by cgroup in the kernel? bpftrace's `cgroup` builtin came in 0.9, and
 * the helper behind it (bpf_get_current_cgroup_id) in Linux 4.18. exitscope asks for bpftrace 0.17
 * anyway; this says why scoping in particular cannot work, before anything starts.
 */
import { UserError } from '../errors.js';
import type { Capabilities } from '../probes/capabilities.js';

export const MIN_BPFTRACE = { major: 0, minor: 9 } as const;
export const MIN_KERNEL = { major: 4, minor: 18 } as const;

const atLeast = (v: { major: number; minor: number }, min: { major: number; minor: number }): boolean => v.major > min.major || (v.major === min.major && v.minor >= min.minor);

export function checkCgroupFilter(caps: Pick<Capabilities, 'bpftrace' | 'kernel'>): void {
  const b = caps.bpftrace;
  if (b && !atLeast(b, MIN_BPFTRACE))
    throw new UserError('BPFTRACE_NO_CGROUP', `bpftrace ${b.version} has no cgroup builtin (0.${MIN_BPFTRACE.minor} and later have it): --cgroup/--scope need it`, 'apt-get install bpftrace (0.17 or later), or filter by VM with --vm/--pid');
  const k = /^(\d+)\.(\d+)/.exec(caps.kernel);
  if (k && !atLeast({ major: Number(k[1]), minor: Number(k[2]) }, MIN_KERNEL))
    throw new UserError('BPFTRACE_NO_CGROUP', `kernel ${caps.kernel} cannot tell BPF programs a thread's cgroup (Linux ${MIN_KERNEL.major}.${MIN_KERNEL.minor} and later can): --cgroup/--scope need it`, 'a newer kernel, or filter by VM with --vm/--pid');
}
