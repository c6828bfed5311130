/**
 * Which VM a host pid is, and which vCPU a thread is, from /proc.
 * QEMU: `-name NAME` or `-name guest=NAME,...` (`,,` escapes a comma; libvirt
 * writes the latter); Proxmox runs `kvm -id N -name X`; vCPU threads are named
 * "CPU N/KVM". Anything else is named after its process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface VmIdentity {
  name: string;
  source: 'qemu' | 'proxmox' | 'process';
}

/** Splits a QEMU option value at single commas ("a,,b,c" -> ["a,b", "c"]). */
export function splitQemuOption(value: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === ',' && value[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (c === ',') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/** The VM name from a process's argv (as /proc/PID/cmdline, split at NUL). */
export function vmIdentity(argv: string[], comm: string): VmIdentity {
  const arg = (flag: string): string | undefined => {
    const i = argv.findIndex((a) => a === flag || a === `-${flag}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const nameOpt = arg('-name');
  let name: string | undefined;
  if (nameOpt !== undefined) {
    const parts = splitQemuOption(nameOpt);
    const guest = parts.find((p) => p.startsWith('guest='));
    name = guest ? guest.slice('guest='.length) : parts[0];
  }
  const id = arg('-id');
  if (id !== undefined && /^\d+$/.test(id)) return { name: name ? `${name} (id ${id})` : `vm ${id}`, source: 'proxmox' };
  if (name) return { name, source: 'qemu' };
  const exe = (argv[0] ?? comm).split('/').pop() || comm;
  return { name: exe, source: 'process' };
}

/** "CPU 3/KVM" -> 3. */
export function vcpuIndex(comm: string): number | undefined {
  const m = /^CPU (\d+)\/KVM$/.exec(comm.trim());
  return m ? Number(m[1]) : undefined;
}

export interface ProcessInfo extends VmIdentity {
  pid: number;
  vcpus: Record<string, number>;
}

/** Reads one process from /proc; undefined when it is gone. */
export function readProcess(pid: number, proc = '/proc'): ProcessInfo | undefined {
  try {
    const argv = readFileSync(join(proc, String(pid), 'cmdline'), 'utf8').split('\0').filter((a, i, all) => a.length > 0 || i < all.length - 1);
    const comm = readFileSync(join(proc, String(pid), 'comm'), 'utf8').trim();
    const vcpus: Record<string, number> = {};
    for (const tid of readdirSync(join(proc, String(pid), 'task'))) {
      try {
        const idx = vcpuIndex(readFileSync(join(proc, String(pid), 'task', tid, 'comm'), 'utf8'));
        if (idx !== undefined) vcpus[tid] = idx;
      } catch {
        // the thread ended meanwhile
      }
    }
    return { pid, ...vmIdentity(argv, comm), vcpus };
  } catch {
    return undefined;
  }
}

/** Host pids whose VM name matches (for --vm): QEMU/Proxmox processes only. */
export function pidsOfVm(name: string, proc = '/proc'): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    const p = readProcess(Number(entry), proc);
    if (p && p.source !== 'process' && (p.name === name || p.name.startsWith(`${name} (id `))) pids.push(p.pid);
  }
  return pids;
}
