/**
 * `exitscope lab --vendor intel`: the lab's options as the Intel lab takes them. It runs one
 * command (Bochs has no console to hand over), copies the current directory in and back (no
 * shares), and has no network (no --forward); it has one vCPU (--cpus and --tcg are QEMU's) and
 * --cpu names a Bochs model; --npt, --memory, --kernel, --timeout, -q mean what they mean for QEMU.
 */
import { UserError } from '../../errors.js';
import type { Forward } from '../qemu-args.js';
import { runInIntelLab } from './run.js';

export interface LabCliOptions {
  run?: string;
  npt: 'on' | 'off';
  cpu?: string;
  memory: number;
  kernel?: string;
  userland?: string;
  writable: string[] | false;
  forward: Forward[];
  /** Only when given on the command line (the defaults are the AMD lab's). */
  cpus?: number;
  tcg?: 'single' | 'multi';
  timeout?: number;
  quiet?: boolean;
}

export function intelUnsupported(opts: LabCliOptions): UserError | undefined {
  if (opts.run === undefined)
    return new UserError('LAB_INTEL_UNSUPPORTED', 'the Intel lab runs one command: it has no interactive shell (Bochs gives the guest no console to hand over)', "pass --run 'COMMAND'");
  if (opts.userland !== undefined)
    return new UserError('LAB_INTEL_UNSUPPORTED', `--userland ${opts.userland}: the Intel lab carries the host's node, bpftrace and perf on its ISO, not a suite's root`, 'drop --userland, or use the AMD lab (--vendor amd)');
  if (opts.forward.length > 0) return new UserError('LAB_INTEL_UNSUPPORTED', 'the Intel lab has no network, so --forward cannot reach it', 'drop --forward, or use the AMD lab (--vendor amd)');
  if (opts.writable !== false && opts.writable.length > 0)
    return new UserError('LAB_INTEL_UNSUPPORTED', 'the Intel lab shares no host directory: it copies the current directory in and what the command wrote there back', 'drop --writable and cd into the directory the command should work in');
  if (opts.cpus !== undefined && opts.cpus !== 1)
    return new UserError('LAB_INTEL_UNSUPPORTED', `--cpus ${opts.cpus}: the Intel lab's guest has one vCPU (Bochs would run more on the same single host thread, no faster)`, 'drop --cpus (KVM guests inside still get their own vCPUs: exitscope-workload --vcpus N), or use the AMD lab (--vendor amd)');
  if (opts.tcg !== undefined) return new UserError('LAB_INTEL_UNSUPPORTED', `--tcg ${opts.tcg} chooses QEMU's threads; the Intel lab runs Bochs`, 'drop --tcg');
  if (opts.cpu !== undefined && !/^[a-z0-9_]+$/.test(opts.cpu))
    return new UserError('LAB_INTEL_UNSUPPORTED', `--cpu ${opts.cpu} is not a Bochs CPU model (the Intel lab runs Bochs, not QEMU)`, 'drop --cpu (the default corei7_skylake_x has VMX with EPT), or name a Bochs model with VMX');
  return undefined;
}

export async function runIntelLabCommand(opts: LabCliOptions, cwd: string): Promise<number> {
  const bad = intelUnsupported(opts);
  if (bad) throw bad;
  return runInIntelLab(
    {
      command: opts.run as string,
      npt: opts.npt === 'on',
      memoryMiB: opts.memory,
      ...(opts.cpu ? { cpuModel: opts.cpu } : {}),
      ...(opts.kernel ? { kernel: opts.kernel } : {}),
      cwd,
      copyCwd: opts.writable !== false,
      progress: opts.quiet ? () => undefined : (line) => process.stderr.write(`${line}\n`),
      ...(opts.timeout ? { timeoutSeconds: opts.timeout } : {}),
    },
    { stdout: process.stdout, stderr: process.stderr },
  );
}
