// Part C's VMs as the collector finds them: a /proc entry per VM (QEMU's command line with
// `-name ci-runner-V`, threads "CPU 0/KVM" and "CPU 1/KVM") and a directory per VM in KVM's debugfs,
// in a temporary directory. redirectFs() points the process' reads of /proc/PID (PID >= 5,000,000:
// bench/fleet-intervals.mjs's fakePidOf, above any pid_max) and of /sys/kernel/debug/kvm there, so
// that the real VmTracker (src/collector/vm-tracker.ts) does its real reads, polls and gone-checks
// on them, in any build of exitscope, without a flag for it. Everything else reads the real files.
import fs, { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakePidOf } from './fleet-intervals.mjs';

export function makeFakeHost(vms) {
  const dir = mkdtempSync(join(tmpdir(), 'exitscope-bench-host-'));
  mkdirSync(join(dir, 'proc'));
  mkdirSync(join(dir, 'debugfs-kvm'));
  for (let v = 0; v < vms; v++) addFakeVm(dir, v);
  return dir;
}

/** VM v's /proc entry and KVM debugfs directory in the fake host `dir` (as QEMU with -name ci-runner-V, 2 vCPUs). */
export function addFakeVm(dir, v) {
  const pid = fakePidOf(v);
  const p = join(dir, 'proc', String(pid));
  writeFileSync(mkdirP(p, 'cmdline'), ['qemu-system-x86_64', '-name', `guest=ci-runner-${v},debug-threads=on`, '-smp', '2', ''].join('\0'));
  writeFileSync(join(p, 'comm'), 'qemu-system-x86\n');
  writeFileSync(mkdirP(join(p, 'task', String(pid)), 'comm'), 'qemu-system-x86\n');
  writeFileSync(mkdirP(join(p, 'task', String(pid + 1)), 'comm'), 'CPU 0/KVM\n');
  writeFileSync(mkdirP(join(p, 'task', String(pid + 2)), 'comm'), 'CPU 1/KVM\n');
  mkdirSync(join(dir, 'debugfs-kvm', `${pid}-11`), { recursive: true });
}

/** VM v's process ended: its /proc entry and debugfs directory go (KVM removes the latter when the VM's fd closes). */
export function removeFakeVm(dir, v) {
  const pid = fakePidOf(v);
  rmSync(join(dir, 'debugfs-kvm', `${pid}-11`), { recursive: true, force: true });
  rmSync(join(dir, 'proc', String(pid)), { recursive: true, force: true });
}

function mkdirP(dir, file) {
  mkdirSync(dir, { recursive: true });
  return join(dir, file);
}

export function redirectFs(dir) {
  const fake = /^\/proc\/(5\d{6,})(\/|$)/;
  const map = (path) => {
    if (typeof path !== 'string') return path;
    if (fake.test(path)) return join(dir, path);
    if (path === '/sys/kernel/debug/kvm') return join(dir, 'debugfs-kvm');
    return path;
  };
  const { existsSync, readFileSync, readdirSync, statSync } = fs;
  fs.readFileSync = (path, ...rest) => readFileSync(map(path), ...rest);
  fs.readdirSync = (path, ...rest) => readdirSync(map(path), ...rest);
  fs.existsSync = (path) => existsSync(map(path));
  fs.statSync = (path, ...rest) => statSync(map(path), ...rest);
  syncBuiltinESMExports();
}
