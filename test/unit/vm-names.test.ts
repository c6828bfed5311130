import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pidsOfVm, readProcess, splitQemuOption, vcpuIndex, vmIdentity } from '../../src/collector/vm-names.js';
import { VmTracker } from '../../src/collector/vm-tracker.js';
import type { VmMessage } from '../../src/protocol/messages.js';

describe('vmIdentity', () => {
  it.each([
    [['qemu-system-x86_64', '-name', 'ci-runner-3', '-m', '4G'], { name: 'ci-runner-3', source: 'qemu' }],
    [['/usr/bin/qemu-system-x86_64', '-name', 'guest=web,,1,debug-threads=on'], { name: 'web,1', source: 'qemu' }],
    [['qemu-kvm', '-name', 'db,process=qemu:db'], { name: 'db', source: 'qemu' }],
    [['/usr/bin/kvm', '-id', '101', '-name', 'build01,debug-threads=on'], { name: 'build01 (id 101)', source: 'proxmox' }],
    [['/usr/bin/kvm', '-id', '102'], { name: 'vm 102', source: 'proxmox' }],
    [['/work/build/exitscope-workload', 'npf', '1031'], { name: 'exitscope-workload', source: 'process' }],
  ] as const)('%j', (argv, want) => expect(vmIdentity([...argv], 'x')).toEqual(want));

  it('falls back to the process name when argv is empty (kernel threads, zombies)', () => {
    expect(vmIdentity([], 'firecracker')).toEqual({ name: 'firecracker', source: 'process' });
  });
});

describe('QEMU option values', () => {
  it('split at single commas, ",," is a literal comma', () => {
    expect(splitQemuOption('a,,b,c')).toEqual(['a,b', 'c']);
    expect(splitQemuOption('guest=x')).toEqual(['guest=x']);
    expect(splitQemuOption('')).toEqual(['']);
  });
});

describe('vcpuIndex', () => {
  it('reads QEMU vCPU thread names only', () => {
    expect(vcpuIndex('CPU 0/KVM')).toBe(0);
    expect(vcpuIndex('CPU 17/KVM\n')).toBe(17);
    expect(vcpuIndex('qemu-system-x86')).toBeUndefined();
    expect(vcpuIndex('CPU x/KVM')).toBeUndefined();
  });
});

/** A fake /proc with one QEMU process, two vCPU threads and an I/O thread. */
function fakeProc(): string {
  const proc = mkdtempSync(join(tmpdir(), 'proc-'));
  const p = join(proc, '4242');
  mkdirSync(join(p, 'task'), { recursive: true });
  writeFileSync(join(p, 'cmdline'), ['qemu-system-x86_64', '-name', 'guest=ci-7,debug-threads=on', ''].join('\0'));
  writeFileSync(join(p, 'comm'), 'qemu-system-x86\n');
  for (const [tid, comm] of [['4242', 'qemu-system-x86'], ['4250', 'CPU 0/KVM'], ['4251', 'CPU 1/KVM'], ['4252', 'IO mon_iothread']] as const) {
    mkdirSync(join(p, 'task', tid));
    writeFileSync(join(p, 'task', tid, 'comm'), `${comm}\n`);
  }
  return proc;
}

describe('readProcess and pidsOfVm', () => {
  it('names the VM and maps vCPU threads to their index', () => {
    const proc = fakeProc();
    expect(readProcess(4242, proc)).toEqual({ pid: 4242, name: 'ci-7', source: 'qemu', vcpus: { '4250': 0, '4251': 1 } });
    expect(readProcess(1, proc)).toBeUndefined();
    expect(pidsOfVm('ci-7', proc)).toEqual([4242]);
    expect(pidsOfVm('ci-8', proc)).toEqual([]);
  });
});

describe('VmTracker', () => {
  it('finds VMs in KVM debugfs, reports new vCPU threads once, and VMs that are gone', () => {
    const proc = fakeProc();
    const debugfs = mkdtempSync(join(tmpdir(), 'kvm-debugfs-'));
    mkdirSync(join(debugfs, '4242-11'));
    const out: VmMessage[] = [];
    const t = new VmTracker((m) => out.push(m), () => 5, proc, debugfs);
    t.poll();
    t.poll();
    t.saw([{ pid: 4242, tid: 4250 }]);
    expect(out).toEqual([{ type: 'vm', event: 'appeared', t: 5, pid: 4242, name: 'ci-7', source: 'qemu', vcpus: { '4250': 0, '4251': 1 } }]);
    // a third vCPU appears (hotplug): known VMs are re-read every tenth poll
    mkdirSync(join(proc, '4242/task/4253'));
    writeFileSync(join(proc, '4242/task/4253/comm'), 'CPU 2/KVM\n');
    for (let i = 0; i < 10; i++) t.poll();
    expect(out.filter((m) => m.event === 'updated')).toHaveLength(1);
    expect(out.at(-1)).toMatchObject({ event: 'updated', vcpus: { '4253': 2 } });
    // the process ends
    writeFileSync(join(proc, '4242/cmdline'), '');
    rmSync(join(proc, '4242'), { recursive: true });
    t.checkGone();
    expect(out.at(-1)).toMatchObject({ event: 'gone', pid: 4242, name: 'ci-7' });
  });
});

/** A VmTracker (with threads) on fakeProc() and an empty KVM debugfs, at t=9, and what it said. */
function trackerOnFakeHost(): { proc: string; debugfs: string; out: VmMessage[]; t: VmTracker } {
  const proc = fakeProc();
  const debugfs = mkdtempSync(join(tmpdir(), 'kvm-debugfs-'));
  const out: VmMessage[] = [];
  return { proc, debugfs, out, t: new VmTracker((m) => out.push(m), () => 9, proc, debugfs) };
}

describe('VmTracker: a VM that ended before it was named', () => {
  it('is said gone at the next gone check, once, as `pid N`; its late counts are not read again; a pid a named VM took is not', () => {
    const { proc, debugfs, out, t } = trackerOnFakeHost();
    // 5555 counted, but its process had ended: nothing to name; 4242 is there
    t.saw([{ pid: 5555, tid: 5556 }, { pid: 5555, tid: 5557 }, { pid: 4242, tid: 4250 }]);
    expect(out.map((m) => [m.event, m.pid])).toEqual([['appeared', 4242]]);
    t.checkGone();
    expect(out.slice(1)).toEqual([{ type: 'vm', event: 'gone', t: 9, pid: 5555, name: 'pid 5555', source: 'process', vcpus: {} }]);
    // its last copy printed once more (late counts): not said again
    t.saw([{ pid: 5555, tid: 5556 }]);
    t.checkGone();
    expect(out).toHaveLength(2);
    // a process that is there but could not be read (not ours to see) is not gone
    mkdirSync(join(proc, '6666'));
    t.saw([{ pid: 6666, tid: 6667 }]);
    // 7777 ends unnamed, and before the gone check a new VM takes its pid and is named (KVM's
    // debugfs, polled): that one is not gone
    t.saw([{ pid: 7777, tid: 7778 }]);
    cpSync(join(proc, '4242'), join(proc, '7777'), { recursive: true });
    mkdirSync(join(debugfs, '7777-11'));
    t.poll();
    t.checkGone();
    expect(out.slice(2).map((m) => [m.event, m.pid])).toEqual([['appeared', 7777]]);
    // two gone checks later 5555 is forgotten: a pid reused by another VM that ends unnamed is said gone again
    t.checkGone();
    rmSync(join(proc, '6666'), { recursive: true });
    t.saw([{ pid: 5555, tid: 5558 }]);
    t.checkGone();
    expect(out.slice(3).map((m) => [m.event, m.pid])).toEqual([['gone', 5555]]);
  });
});

describe('VmTracker: a named VM whose last counts come after it was said gone', () => {
  it('is said gone once, by its name (not again as `pid N`)', () => {
    const { proc, out, t } = trackerOnFakeHost();
    t.saw([{ pid: 4242, tid: 4250 }]);
    // it exits just after bpftrace's print; the gone check comes before the next snapshot
    rmSync(join(proc, '4242'), { recursive: true });
    t.checkGone();
    // the next snapshot still has its exits from between that print and its end
    t.saw([{ pid: 4242, tid: 4250 }]);
    t.checkGone();
    t.checkGone();
    const gone = out.filter((m) => m.event === 'gone');
    expect(gone).toHaveLength(1);
    expect(gone[0]?.name).toBe(out[0]?.name);
  });
});

describe('VmTracker without threads (exit counts keyed by VM, tid 0: the exporter without --metrics-vcpu)', () => {
  it('learns a VM from its first count (its vCPUs read once), reads it again for no later count, and follows no threads', () => {
    const proc = fakeProc();
    const debugfs = mkdtempSync(join(tmpdir(), 'kvm-debugfs-')); // empty: the counts are what bring the VM to light
    const out: VmMessage[] = [];
    const t = new VmTracker((m) => out.push(m), () => 7, proc, debugfs, false);
    t.poll();
    expect(out).toEqual([]);
    t.saw([{ pid: 4242, tid: 0 }, { pid: 4242, tid: 0 }, { pid: 999_999, tid: 0 }]);
    // named with the vCPUs it has (vm_info and the name need no thread key); thread 0 is no thread
    expect(out).toEqual([{ type: 'vm', event: 'appeared', t: 7, pid: 4242, name: 'ci-7', source: 'qemu', vcpus: { '4250': 0, '4251': 1 } }]);
    // known: a renamed command line is not read again for the next counts
    writeFileSync(join(proc, '4242/cmdline'), ['qemu-system-x86_64', '-name', 'renamed', ''].join('\0'));
    t.saw([{ pid: 4242, tid: 0 }]);
    // a hotplugged vCPU: its thread list is not polled (with threads it is, every tenth poll: above)
    mkdirSync(join(proc, '4242/task/4253'));
    writeFileSync(join(proc, '4242/task/4253/comm'), 'CPU 2/KVM\n');
    for (let i = 0; i < 21; i++) t.poll();
    expect(out).toHaveLength(1);
    // gone as before; 999999, which counted with no process to name, is said gone unnamed
    rmSync(join(proc, '4242'), { recursive: true });
    t.checkGone();
    expect(out.slice(1).map((m) => [m.event, m.pid, m.name])).toEqual([['gone', 4242, 'ci-7'], ['gone', 999_999, 'pid 999999']]);
  });
});

describe('VmTracker: KVM debugfs is listed when it changed (a stat), and every tenth poll', () => {
  it('a new VM directory is seen at the next poll; an unchanged directory is not listed again until the tenth', () => {
    const { renameSync } = require('node:fs') as typeof import('node:fs');
    const proc = fakeProc();
    const debugfs = mkdtempSync(join(tmpdir(), 'kvm-debugfs-'));
    mkdirSync(join(debugfs, '4242-11'));
    // its /proc entry is not there yet: the first listing finds the directory but cannot name it
    renameSync(join(proc, '4242'), join(proc, 'hidden'));
    const out: VmMessage[] = [];
    const t = new VmTracker((m) => out.push(m), () => 3, proc, debugfs, false);
    t.poll(); // poll 0: listed
    renameSync(join(proc, 'hidden'), join(proc, '4242'));
    for (let i = 1; i < 10; i++) t.poll(); // polls 1..9: debugfs unchanged, not listed
    expect(out).toEqual([]);
    t.poll(); // poll 10: listed whatever the stat says
    expect(out.map((m) => [m.event, m.pid])).toEqual([['appeared', 4242]]);
    // a VM starts: its directory changes debugfs' links, and the very next poll lists it
    cpSync(join(proc, '4242'), join(proc, '5555'), { recursive: true });
    mkdirSync(join(debugfs, '5555-12'));
    t.poll(); // poll 11
    expect(out.map((m) => [m.event, m.pid])).toEqual([['appeared', 4242], ['appeared', 5555]]);
  });
});
