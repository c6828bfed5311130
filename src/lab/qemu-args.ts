/**
 * The QEMU command line of the lab: software emulation (TCG) of an AMD CPU with
 * SVM and nested paging, so that a real kvm_amd runs inside. Pure: unit-tested.
 */

export interface Forward {
  hostPort: number;
  guestPort: number;
}

export interface QemuConfig {
  /** QEMU -cpu model; LAB_CPU unless the user picks another. */
  cpuModel: string;
  /** 'single' (default): one TCG thread for all vCPUs; 'multi': one per vCPU. */
  tcgThreads?: 'single' | 'multi';
  cpus: number;
  memoryMiB: number;
  vmlinuz: string;
  initramfs: string;
  /** Unix sockets QEMU connects to for the console, the command's stdout and its stderr. */
  sockets: { console: string; stdout: string; stderr: string };
  /** In interactive mode the command's terminal is QEMU's own stdio. */
  interactive: boolean;
  /** Host directory shared read-write as tag "ctl" (config, run script, status). */
  ctlDir: string;
  /** Host directories shared read-write, mounted at the same path in the guest. */
  writable: string[];
  forwards: Forward[];
  /** Host directory shown as the guest's root, read-only. */
  hostRoot: string;
}

/** The CPU model: EPYC is the AMD model QEMU 7.2 knows best; svm and npt are what KVM needs. */
export const LAB_CPU = 'EPYC,+svm,+npt';

export const KERNEL_APPEND = [
  'console=ttyS0',
  'quiet',
  'loglevel=3',
  'panic=-1', // reboot at once on panic, and -no-reboot turns that into QEMU exiting
  'net.ifnames=0',
  '8250.nr_uarts=4',
  'tsc=reliable', // emulated TSC looks unstable; without this the clocksource watchdog complains
  // The boot-time check that the IO-APIC timer ticks counts ticks in a short busy loop: on a loaded
  // host the emulated CPU falls behind and the kernel panics ("IO-APIC + timer doesn't work!",
  // seen with three labs on 2 cores). The check is for broken chipsets, not for QEMU's.
  'no_timer_check',
].join(' ');

function chardevSocket(id: string, path: string): string[] {
  if (path.includes(',')) throw new Error(`socket path must not contain a comma: ${path}`);
  return ['-chardev', `socket,id=${id},path=${path}`, '-serial', `chardev:${id}`];
}

/** QEMU escapes a comma in an option value by doubling it. */
export function qemuEscape(value: string): string {
  return value.replaceAll(',', ',,');
}

export function qemuArgs(c: QemuConfig): string[] {
  if (!Number.isInteger(c.cpus) || c.cpus < 1 || c.cpus > 64) throw new RangeError(`cpus must be 1..64, not ${c.cpus}`);
  if (!/^[A-Za-z0-9_.+,=-]+$/.test(c.cpuModel)) throw new Error(`--cpu takes a QEMU CPU model like ${LAB_CPU}, not '${c.cpuModel}'`);
  if (!Number.isInteger(c.memoryMiB) || c.memoryMiB < 256) throw new RangeError(`memory must be at least 256 MiB, not ${c.memoryMiB}`);
  const args = [
    '-machine', 'q35',
    // One TCG thread for all vCPUs: with multi-threaded TCG the guest kernel's live code patching
    // (static keys flipped when KVM creates a VM) deadlocked now and then: both vCPUs in soft lockup.
    // (--tcg multi brings it back for benchmarks, where vCPUs must run in parallel.)
    '-accel', `tcg,thread=${c.tcgThreads ?? 'single'}`,
    '-cpu', c.cpuModel,
    '-smp', String(c.cpus),
    '-m', `${c.memoryMiB}M`,
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', c.vmlinuz,
    '-initrd', c.initramfs,
    '-append', KERNEL_APPEND,
    ...chardevSocket('con', c.sockets.console),
  ];
  if (c.interactive) {
    args.push('-chardev', 'stdio,id=out,signal=off', '-serial', 'chardev:out');
  } else {
    args.push(...chardevSocket('out', c.sockets.stdout));
  }
  args.push(...chardevSocket('err', c.sockets.stderr));
  args.push(
    '-fsdev', `local,id=host,path=${qemuEscape(c.hostRoot)},security_model=none,readonly=on,multidevs=remap`,
    '-device', 'virtio-9p-pci,fsdev=host,mount_tag=host',
    '-fsdev', `local,id=ctl,path=${qemuEscape(c.ctlDir)},security_model=none`,
    '-device', 'virtio-9p-pci,fsdev=ctl,mount_tag=ctl',
  );
  c.writable.forEach((dir, i) => {
    args.push(
      '-fsdev', `local,id=w${i},path=${qemuEscape(dir)},security_model=none`,
      '-device', `virtio-9p-pci,fsdev=w${i},mount_tag=w${i}`,
    );
  });
  const fwd = c.forwards.map((f) => `,hostfwd=tcp:127.0.0.1:${f.hostPort}-:${f.guestPort}`).join('');
  args.push('-netdev', `user,id=n0${fwd}`, '-device', 'virtio-net-pci,netdev=n0');
  return args;
}

/** Parses --forward values: "8080" (same port both sides) or "HOST:GUEST". */
export function parseForward(spec: string): Forward {
  const m = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(spec.trim());
  if (!m) throw new Error(`--forward takes PORT or HOSTPORT:GUESTPORT, not '${spec}'`);
  const hostPort = Number(m[1]);
  const guestPort = Number(m[2] ?? m[1]);
  for (const p of [hostPort, guestPort]) if (p < 1 || p > 65535) throw new Error(`--forward: port ${p} is outside 1..65535`);
  return { hostPort, guestPort };
}

/** Parses --memory: "2048", "2048M", "2G" -> MiB. */
export function parseMemory(spec: string): number {
  const m = /^(\d+)\s*([MG]i?B?)?$/i.exec(spec.trim());
  if (!m) throw new Error(`--memory takes a size like 2048M or 2G, not '${spec}'`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'M').toUpperCase();
  const mib = unit.startsWith('G') ? n * 1024 : n;
  if (mib < 256) throw new Error(`--memory must be at least 256M (the guest kernel and the host's tools need it), not '${spec}'`);
  return mib;
}
