/**
 * exitscope's command line. Each subcommand parses and validates its options
 * here, then calls one module; errors a user can fix print "error/fix" lines,
 * anything else is a bug and prints its stack.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatUserError, isUserError } from './errors.js';
import { type Forward, LAB_CPU, parseForward, parseMemory } from './lab/qemu-args.js';
import { runInLab } from './lab/run-command.js';

function intIn(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} takes a whole number, not '${value}'`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} takes ${min}..${max}, not ${n}`);
    return n;
  };
}

function wrap<T>(parse: (v: string) => T) {
  return (value: string): T => {
    try {
      return parse(value);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

function collect<T>(parse: (v: string) => T) {
  return (value: string, previous: T[] = []): T[] => [...previous, wrap(parse)(value)];
}

export function buildProgram(): Command {
  const program = new Command('exitscope')
    .description('Real-time tracer of KVM VM exits: which exits guests take, how many, and what each costs.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('lab')
    .description(
      'Boot a real KVM host under QEMU software emulation (no /dev/kvm needed) and run a command in it, or a shell.\n' +
        "The guest sees the host's root read-only (writes go to RAM), so the host's node, bpftrace, perf\n" +
        'and this checkout run there unchanged; the current directory is writable (see --writable).',
    )
    .option('--run <command>', 'run COMMAND (a shell command line) as root in the guest, from the current directory; exit with its status')
    .addOption(new Option('--npt <on|off>', 'nested paging in kvm_amd; off reproduces shadow paging (the seed article)').choices(['on', 'off']).default('on'))
    .option('--cpu <model>', `QEMU CPU model for the lab guest; it must have svm (default ${LAB_CPU})`)
    .option('--cpus <n>', 'vCPUs of the lab guest (KVM guests inside get their own)', intIn('--cpus', 1, 64), 2)
    .option('--memory <size>', 'memory of the lab guest, e.g. 2048M or 2G', wrap(parseMemory), 2048)
    .option('--kernel <path>', 'guest kernel: a linux-image .deb or an unpacked tree (default: Debian linux-image-amd64, downloaded once)')
    .option('--writable <dir>', 'host directory the guest may write to, at the same path (repeatable; default: the current directory)', collect((d: string) => d), [] as string[])
    .option('--no-writable', 'share nothing writable: the guest writes only to RAM')
    .option('--forward <[host:]guest>', 'forward 127.0.0.1:HOST on the host to GUEST in the guest (repeatable)', collect(parseForward), [] as Forward[])
    .option('--timeout <seconds>', 'stop the guest after this many seconds', intIn('--timeout', 1, 86400))
    .option('-q, --quiet', 'no boot progress lines')
    .addHelpText(
      'after',
      `
Examples:
  exitscope lab --run 'exitscope-workload io 1009'
  exitscope lab --run 'perf stat -e kvm:kvm_exit -a -- exitscope-workload cpuid 1013'
  exitscope lab --npt off --run 'exitscope-workload npf 1021'
  exitscope lab --forward 8080 --run 'exitscope serve 0.0.0.0:8080'
  exitscope lab                      # a shell in the guest

Needs root, qemu-system-x86, busybox-static and kmod (apt-get install qemu-system-x86 busybox-static kmod).
The first run downloads Debian's kernel package (~70 MB) into ~/.cache/exitscope. See docs/lab.md.`,
    )
    .action(async (opts: { run?: string; npt: 'on' | 'off'; cpu?: string; cpus: number; memory: number; kernel?: string; writable: string[] | false; forward: Forward[]; timeout?: number; quiet?: boolean }) => {
      const cwd = process.cwd();
      const writable = opts.writable === false ? [] : opts.writable.length > 0 ? opts.writable : cwd === '/' ? [] : [cwd];
      const status = await runInLab(
        {
          mode: opts.run === undefined ? 'shell' : 'run',
          ...(opts.run !== undefined ? { command: opts.run } : {}),
          npt: opts.npt === 'on',
          ...(opts.cpu ? { cpuModel: opts.cpu } : {}),
          cpus: opts.cpus,
          memoryMiB: opts.memory,
          ...(opts.kernel ? { kernel: opts.kernel } : {}),
          writable,
          forwards: opts.forward,
          cwd,
          progress: opts.quiet ? () => undefined : (line) => process.stderr.write(`${line}\n`),
          ...(opts.timeout ? { timeoutSeconds: opts.timeout } : {}),
        },
        { stdout: process.stdout, stderr: process.stderr },
      );
      process.exitCode = status;
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`${formatUserError(e)}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}
