/**
 * The Bochs configuration of the Intel lab: an emulated Skylake-X with VMX and EPT (Debian 12's
 * bochs 2.7 is built with them), booting the lab's ISO.
 *
 * Every file is named relative to the run directory Bochs starts in (boot.ts links the cached
 * boot ISO there), so no host path, with whatever characters it holds, is ever written into
 * the file. The values below are the ones seen working (../shared/research/intel-lab-notes.md).
 */

/** Bochs' CPU model with VMX, EPT and unrestricted guest ("vmx flags: ... ept ... unrestricted_guest"). */
export const BOCHS_CPU = 'corei7_skylake_x';

/** Files of the run directory that the configuration names. */
export const RUN_FILES = {
  bootIso: 'boot.iso',
  runIso: 'run.iso',
  outDisk: 'out.img',
  ctlDisk: 'ctl.img',
  console: 'console.txt',
  stdout: 'stdout.txt',
  stderr: 'stderr.txt',
  log: 'bochs.log',
} as const;

/** Geometry Bochs gives a flat disk image: its size must be cylinders * heads * sectors * 512. */
export const OUT_DISK_GEOMETRY = { cylinders: 4096, heads: 16, spt: 63 } as const;
export const OUT_DISK_BYTES = OUT_DISK_GEOMETRY.cylinders * OUT_DISK_GEOMETRY.heads * OUT_DISK_GEOMETRY.spt * 512;
/** The control disk (stop-request.ts): the smallest geometry Bochs takes, one cylinder. */
export const CTL_DISK_GEOMETRY = { cylinders: 1, heads: 16, spt: 63 } as const;
export const CTL_DISK_BYTES = CTL_DISK_GEOMETRY.cylinders * CTL_DISK_GEOMETRY.heads * CTL_DISK_GEOMETRY.spt * 512;

export const BOCHS_ROM = '/usr/share/bochs/BIOS-bochs-latest';
export const BOCHS_VGA_ROM = '/usr/share/vgabios/vgabios.bin';

export interface BochsConfig {
  memoryMiB: number;
  /** Bochs CPU model (default BOCHS_CPU). */
  cpuModel?: string;
}

/** Bochs' own names: letters, digits and underscores. */
const MODEL = /^[a-z0-9_]+$/;

export function bochsrc(c: BochsConfig): string {
  const model = c.cpuModel ?? BOCHS_CPU;
  if (!MODEL.test(model)) throw new RangeError(`Bochs CPU model must be letters, digits and _: ${JSON.stringify(model)}`);
  if (!Number.isInteger(c.memoryMiB) || c.memoryMiB < 256 || c.memoryMiB > 8192) throw new RangeError(`memory must be 256..8192 MiB for Bochs, not ${c.memoryMiB}`);
  const g = OUT_DISK_GEOMETRY;
  const ctl = CTL_DISK_GEOMETRY;
  return [
    '# written by exitscope lab --vendor intel (src/lab/intel/bochsrc.ts)',
    `megs: ${c.memoryMiB}`,
    // ips: the emulated speed guest time is counted in (with clock: sync=none, guest time is
    // instructions / ips, not the host's clock); ignore_bad_msrs: the kernel probes MSRs Bochs lacks
    `cpu: model=${model}, count=1, ips=200000000, reset_on_triple_fault=1, ignore_bad_msrs=1`,
    `romimage: file=${BOCHS_ROM}`,
    `vgaromimage: file=${BOCHS_VGA_ROM}`,
    'pci: enabled=1, chipset=i440fx',
    'ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14',
    `ata0-master: type=cdrom, path=${RUN_FILES.bootIso}, status=inserted`,
    `ata0-slave: type=cdrom, path=${RUN_FILES.runIso}, status=inserted`,
    'ata1: enabled=1, ioaddr1=0x170, ioaddr2=0x370, irq=15',
    // what the command wrote comes back on this disk (a cpio archive from its first sector)
    `ata1-master: type=disk, path=${RUN_FILES.outDisk}, mode=flat, cylinders=${g.cylinders}, heads=${g.heads}, spt=${g.spt}`,
    // the host asks the command to stop (a timeout, Ctrl-C) by writing on this one (stop-request.ts)
    `ata1-slave: type=disk, path=${RUN_FILES.ctlDisk}, mode=flat, cylinders=${ctl.cylinders}, heads=${ctl.heads}, spt=${ctl.spt}`,
    'boot: cdrom',
    // ttyS0: kernel console and /init's events; ttyS1, ttyS2: the command's stdout and stderr
    `com1: enabled=1, mode=file, dev=${RUN_FILES.console}`,
    `com2: enabled=1, mode=file, dev=${RUN_FILES.stdout}`,
    `com3: enabled=1, mode=file, dev=${RUN_FILES.stderr}`,
    'clock: sync=none',
    'mouse: enabled=0',
    // no sound through the host: Bochs' default drivers are ALSA's, and where ALSA finds no card (a
    // machine without one, as CI's) Debian's 2.7 aborts at start in its mixer thread ("*** buffer
    // overflow detected ***", seen on a fresh machine of this workplace); the PC speaker still works
    'sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy',
    'config_interface: textconfig',
    // Debian's build has no "nogui"; rfb needs no display, and timeout=0 does not wait for a viewer
    'display_library: rfb, options="timeout=0"',
    `log: ${RUN_FILES.log}`,
    'panic: action=fatal',
    // error and info would log a line for every RDMSR of an MSR Bochs lacks (KVM reads DEBUGCTL
    // around each VM entry) and every HLT a KVM guest runs with interrupts off (Bochs warns before
    // the VM exit): over 130 MB in one e2e run. Panics are still logged, and end Bochs.
    'error: action=ignore',
    'info: action=ignore',
    'debug: action=ignore',
    '',
  ].join('\n');
}
