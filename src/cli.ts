/**
 * exitscope's command line. Each subcommand parses and validates its options
 * here, then calls one module; errors a user can fix print "error/fix" lines,
 * anything else is a bug and prints its stack.
 *
 * A command's module is imported in its action, not here: `run` does not load the WebSocket
 * server, prom-client or the lab's planners. Loading every command's modules cost 0.3 s of CPU
 * natively and about a minute in the Intel lab (Bochs), at every start. What is imported
 * statically is what parsing the options needs (small tables and parsers).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatUserError, isUserError, UserError } from './errors.js';
import { isHelpOrVersion, throwUsageErrors } from './usage-errors.js';
import { type Forward, LAB_CPU, parseForward, parseMemory } from './lab/qemu-args.js';
import { USERLAND_SUITE_NAMES } from './lab/userland/suites.js';
import { FLAME_FORMATS, type FlameFormat } from './flame/outputs.js';
import type { LiveOptions } from './commands/live.js';
import { loadDashboard } from '../ui/load-dashboard.js';
import { DIFF_FORMATS, type DiffFormat } from './diff/format.js';
import { parseFailOn } from './gate/spec.js';
import { parseSpeed } from './replay-server/pace.js';
import type { ServeOptions } from './server/start.js';
import { parseListen } from './server/listen-spec.js';
import { FORMATS, type Format } from './report/format.js';
import { METRICS_DEFAULTS, type MetricsOptions } from './metrics/model.js';
import { EXITSCOPE_VERSION } from './version.js';
import { KERNEL_SUITES } from './lab/kernels/suites.js';

function intIn(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} takes a whole number, not '${value}'`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} takes ${min}..${max}, not ${n}`);
    return n;
  };
}

function numIn(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`${name} takes a number from ${min} to ${max}, not '${value}'`);
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

function parseFormats(value: string): FlameFormat[] {
  const list = value.split(',').map((v) => v.trim()).filter(Boolean);
  for (const f of list) if (!(FLAME_FORMATS as readonly string[]).includes(f)) throw new Error(`--format takes ${FLAME_FORMATS.join(', ')}, not '${f}'`);
  if (list.length === 0) throw new Error('--format needs at least one format');
  return [...new Set(list)] as FlameFormat[];
}

function collect<T>(parse: (v: string) => T) {
  return (value: string, previous: T[] = []): T[] => [...previous, wrap(parse)(value)];
}

export function buildProgram(): Command {
  const program = new Command('exitscope')
    .description('Real-time tracer of KVM VM exits: which exits guests take, how many, and what each costs.')
    .version(EXITSCOPE_VERSION);

  program
    .command('lab')
    .description(
      'Boot a real KVM host under QEMU software emulation (no /dev/kvm needed) and run a command in it, or a shell.\n' +
        "The guest sees the host's root read-only (writes go to RAM), so the host's node, bpftrace, perf\n" +
        'and this exitscope (checkout or installed package) run there unchanged, exitscope and exitscope-workload\n' +
        'on its PATH; the current directory is writable (see --writable).',
    )
    .option('--run <command>', 'run COMMAND (a shell command line) as root in the guest, from the current directory; exit with its status')
    .addOption(new Option('--vendor <amd|intel>', 'amd: QEMU TCG emulating SVM + NPT (fast boot); intel: Bochs emulating VMX + EPT, kvm_intel (needs --run; 1-2 minutes to boot; see docs/lab.md)').choices(['amd', 'intel']).default('amd'))
    .addOption(new Option('--npt <on|off>', 'nested paging (kvm_amd npt, kvm_intel ept); off reproduces shadow paging (the seed article)').choices(['on', 'off']).default('on'))
    .option('--cpu <model>', `QEMU CPU model for the lab guest; it must have svm (default ${LAB_CPU})`)
    .option('--cpus <n>', 'vCPUs of the lab guest (KVM guests inside get their own)', intIn('--cpus', 1, 64), 2)
    .addOption(new Option('--tcg <threads>', 'single: one host thread runs every vCPU (robust; the default); multi: one per vCPU (parallel, as benchmarks need, but QEMU 7.2 sometimes deadlocks the guest)').choices(['single', 'multi']).default('single'))
    .option('--memory <size>', 'memory of the lab guest, e.g. 2048M or 2G', wrap(parseMemory), 2048)
    .option('--kernel <path|debian:SUITE>', `guest kernel: a linux-image .deb, an unpacked tree, or a Debian suite's current kernel (${KERNEL_SUITES.map((k) => `debian:${k.name}`).join(', ')}; downloaded once) (default: Debian linux-image-amd64, downloaded once)`)
    .addOption(new Option('--userland <suite>', "run the command in a minimal Debian root of SUITE (its bpftrace, perf and node; built once with debootstrap into the cache, a few minutes) instead of the host's root").choices([...USERLAND_SUITE_NAMES]))
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
  exitscope lab --kernel debian:bullseye --run 'exitscope run -- exitscope-workload io 1009'
  exitscope lab --userland trixie --run 'bpftrace --version; exitscope run -- exitscope-workload io 1009'
  exitscope lab --forward 8080 --run 'exitscope serve 0.0.0.0:8080'
  exitscope lab                      # a shell in the guest
  exitscope lab --vendor intel --run 'exitscope run -- exitscope-workload io 1009'   # kvm_intel under Bochs

Needs root, qemu-system-x86, busybox-static and kmod (apt-get install qemu-system-x86 busybox-static kmod);
--vendor intel: bochs, bochsbios, vgabios, isolinux, syslinux-common, xorriso.
The first run downloads Debian's kernel package (~70 MB) into ~/.cache/exitscope. See docs/lab.md.`,
    )
    .action(async (opts: { run?: string; vendor: 'amd' | 'intel'; npt: 'on' | 'off'; cpu?: string; tcg: 'single' | 'multi'; cpus: number; memory: number; kernel?: string; userland?: string; writable: string[] | false; forward: Forward[]; timeout?: number; quiet?: boolean }, cmd: Command) => {
      const cwd = process.cwd();
      if (opts.vendor === 'intel') {
        // --cpus and --tcg have QEMU's defaults: only a value the user gave is the Intel lab's concern
        const given = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';
        const { cpus, tcg, ...rest } = opts;
        const { runIntelLabCommand } = await import('./lab/intel/command.js');
        process.exitCode = await runIntelLabCommand({ ...rest, ...(given('cpus') ? { cpus } : {}), ...(given('tcg') ? { tcg } : {}) }, cwd);
        return;
      }
      const writable = opts.writable === false ? [] : opts.writable.length > 0 ? opts.writable : cwd === '/' ? [] : [cwd];
      const { runInLab } = await import('./lab/run-command.js');
      const status = await runInLab(
        {
          mode: opts.run === undefined ? 'shell' : 'run',
          ...(opts.run !== undefined ? { command: opts.run } : {}),
          npt: opts.npt === 'on',
          ...(opts.cpu ? { cpuModel: opts.cpu } : {}),
          tcgThreads: opts.tcg,
          cpus: opts.cpus,
          memoryMiB: opts.memory,
          ...(opts.kernel ? { kernel: opts.kernel } : {}),
          ...(opts.userland ? { userland: opts.userland } : {}),
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

  program
    .command('doctor')
    .description('Check what this machine can trace (bpftrace, tracepoints, KVM, kprobes, BTF) and how to fix what is missing;\nthen try it: compile and attach the program `top` runs, and stop it (a few seconds; as root).')
    .option('--json', 'print the findings as JSON')
    .option('--no-trial', 'only read the files: do not compile and attach the program')
    .action(async (o: { json?: boolean; trial: boolean }) => {
      const { doctorCommand } = await import('./commands/doctor.js');
      process.exitCode = await doctorCommand({ json: o.json === true, trial: o.trial });
    });

  metricsOptions(liveOptions(
    program
      .command('top')
      .description('Live exit counts, rates and latency per exit reason, VM and vCPU: the interactive dashboard on a terminal (keys: p pause, s sort, / filter, v VM, 1/2/3 window, r reset, ? help, q quit), a refreshing text table otherwise.')
      .option('--plain', 'a refreshing text table (the default without a TTY)')
      .option('--once', 'print one full interval as text, then exit')
      .option('-o, --output <file>', 'also record the stream to this file (flushed on q / Ctrl-C)')
      .addOption(new Option('-w, --window <seconds>', 'rolling window').choices(['1', '10', '60']).default('10'))
      .option('--duration <seconds>', 'stop after this many seconds', intIn('--duration', 1, 31_536_000))
      .option('--serve <[addr:]port>', 'also serve the stream to WebSocket clients and /metrics to Prometheus (see exitscope serve)'),
  ))
    .option('--token <token>', 'with --serve: the control token (generated for a non-loopback address)')
    .option('--read-token <token>', 'with --serve: a token that may only watch')
    .option('--allow-origin <origin>', 'with --serve: a browser Origin allowed besides the server\'s own (repeatable)', collect((v: string) => v), [] as string[])
    .addHelpText('after', `\nExamples:\n  exitscope top                      the dashboard\n  exitscope top --vm ci-runner-3     only one VM (filtered in the kernel)\n  exitscope top --cgroup machine.slice   every libvirt VM, nothing else (its cgroup and those below)\n  exitscope top --once -w 1          one table, for a script\n  exitscope lab --run 'exitscope-workload mix 60 & exitscope top --plain --duration 20'\n  exitscope top --serve 8080          the dashboard here, the stream at ws://127.0.0.1:8080/stream`)
  .action(async (o: LiveCli & ServeCli & { once?: boolean; plain?: boolean; output?: string; window: string; duration?: number; serve?: string }) => {
    const common = { ...live(o), ...(o.output ? { output: o.output } : {}), ...(o.duration ? { duration: o.duration } : {}), ...(o.serve !== undefined ? { serve: serveOpts(o.serve, o) } : {}) };
    if (process.stdout.isTTY && process.stdin.isTTY && !o.plain && !o.once) {
      const { topDashboard } = await loadDashboard();
      process.exitCode = await topDashboard({ ...common, windowSeconds: Number(o.window) as 1 | 10 | 60 });
    } else {
      const { topPlainCommand } = await import('./commands/top-plain.js');
      process.exitCode = await topPlainCommand({ ...common, once: o.once === true, windowSeconds: Number(o.window) });
    }
  });

  liveOptions(
    program
      .command('record')
      .description('Record the stream of snapshots to a file (JSON Lines) until --duration or Ctrl-C; nothing is lost on Ctrl-C. With --from, record a remote exitscope serve instead.')
      .requiredOption('-o, --output <file>', 'where to write the recording')
      .option('--duration <seconds>', 'stop after this many seconds', intIn('--duration', 1, 31_536_000))
      .option('--from <url>', 'record the stream of a remote `exitscope serve` (ws://HOST:PORT)')
      .option('--token <token>', 'with --from: the token the server printed')
      .option('-q, --quiet', 'no progress'),
  ).action(async (o: LiveCli & { output: string; duration?: number; quiet?: boolean; from?: string; token?: string }) => {
    if (o.from !== undefined) {
      const { recordFromCommand } = await import('./commands/record-from.js');
      process.exitCode = await recordFromCommand({ from: o.from, ...(o.token ? { token: o.token } : {}), output: o.output, ...(o.duration ? { duration: o.duration } : {}), quiet: o.quiet === true });
      return;
    }
    const { recordCommand } = await import('./commands/record.js');
    process.exitCode = await recordCommand({ ...live(o), output: o.output, ...(o.duration ? { duration: o.duration } : {}), quiet: o.quiet === true });
  });

  metricsOptions(liveOptions(
    program
      .command('serve')
      .description('Serve the live stream to WebSocket clients (exitscope record --from, scripts; docs/protocol.md) and /metrics to Prometheus (docs/metrics.md), headless. Loopback needs no token; any other address does (generated and printed if not given).')
      .argument('<[addr:]port>', 'where to listen: 8080 is 127.0.0.1:8080; 0.0.0.0:8080 all addresses (a token is then required)')
      .option('--token <token>', 'the control token: watch and ask for flame snapshots')
      .option('--read-token <token>', 'a token that may only watch')
      .option('--allow-origin <origin>', "a browser Origin allowed besides the server's own (repeatable)", collect((v: string) => v), [] as string[])
      .option('--max-clients <n>', 'clients at once', intIn('--max-clients', 1, 10_000), 64)
      .option('--duration <seconds>', 'stop after this many seconds', intIn('--duration', 1, 31_536_000))
      .option('--replay <file>', 'serve this recording instead of tracing (no KVM, bpftrace or root needed); it starts when the first client connects, and the finished stream stays served until Ctrl-C')
      .option('--speed <factor>', 'with --replay: this many times the recorded pace (0.01..1000), or max (also 0): as fast as possible', wrap(parseSpeed))
      .addHelpText('after', `\nExamples:\n  exitscope serve 8080                                  loopback, no token\n  exitscope serve 8080 --replay run.jsonl --speed 10    a recording, 10x faster: open http://127.0.0.1:8080/\n  exitscope serve 0.0.0.0:8080 --read-token \$(openssl rand -hex 16)\n  exitscope record --from ws://127.0.0.1:8080 -o remote.jsonl\n  curl -s http://127.0.0.1:8080/metrics                 the Prometheus metrics (docs/metrics.md)\n  exitscope lab --forward 8080 --run 'exitscope serve 0.0.0.0:8080 --token T'`),
  )).action(async (listen: string, o: LiveCli & ServeCli & { maxClients: number; duration?: number; replay?: string; speed?: number }) => {
    if (o.replay !== undefined) {
      // nothing is traced: the tracing options would be silently ignored, so they are refused
      const traced = (['pid', 'vm', 'cgroup', 'reason', 'detail', 'verbose'] as const).filter((k) => (Array.isArray(o[k]) ? (o[k] as unknown[]).length > 0 : o[k] !== undefined));
      if (traced.length || o.latency === false) throw new UserError('USAGE', `--replay serves a recording as it was recorded: --${traced[0] ?? 'no-latency'} applies to tracing only`, 'drop it (filter when recording), or serve a live trace without --replay');
      const { serveReplayCommand } = await import('./commands/serve-replay.js');
      process.exitCode = await serveReplayCommand({ ...serveOpts(listen, o), maxClients: o.maxClients, file: o.replay, speed: o.speed ?? 1, ...(o.duration ? { duration: o.duration } : {}) });
      return;
    }
    if (o.speed !== undefined) throw new UserError('USAGE', '--speed paces a replay: it needs --replay FILE', 'add --replay FILE, or drop --speed');
    const { serveCommand } = await import('./commands/serve.js');
    process.exitCode = await serveCommand({ ...live(o), ...serveOpts(listen, o), maxClients: o.maxClients, ...(o.duration ? { duration: o.duration } : {}) });
  });

  metricsOptions(liveOptions(
    program
      .command('exporter')
      .description('Trace and serve only /metrics (Prometheus) and /healthz, for running as a service (systemd): no dashboard, no recording, no WebSocket. Loopback needs no token; any other address does (generated and printed once if not given), sent as Authorization: Bearer TOKEN. docs/metrics.md lists the metrics.')
      .argument('<[addr:]port>', 'where to listen: 9477 is 127.0.0.1:9477; 0.0.0.0:9477 all addresses (a token is then required)')
      .option('--read-token <token>', 'the token scrapers send (generated off loopback if neither this nor --read-token-file is given)')
      .option('--read-token-file <file>', "the token from a file (one line): kept out of `ps`, e.g. systemd's LoadCredential="),
    EXPORTER_INTERVAL_MS,
  )).addHelpText('after', `\nExamples:\n  exitscope exporter 9477                                   loopback: curl -s http://127.0.0.1:9477/metrics\n  exitscope exporter 0.0.0.0:9477 --read-token-file /etc/exitscope/token\n  exitscope exporter 0.0.0.0:9477 --metrics-max-vms 200 --metrics-gone-grace 60   a CI farm of short-lived VMs\n  exitscope exporter 9477 -i 1000                           read the kernel every second (for 1 s scrapes; more CPU: docs/metrics.md)\n\nPrometheus (prometheus.yml), one job for the fleet:\n  scrape_configs:\n    - job_name: exitscope\n      authorization: { credentials_file: /etc/prometheus/exitscope.token }\n      static_configs: [{ targets: ['hv1:9477', 'hv2:9477'] }]\n\n/healthz answers 200 while bpftrace is attached and counting, 503 with the reason otherwise.\nSIGTERM or SIGINT stop it cleanly (status 0); if collection ends by itself the status is 1.`)
    .action(async (listen: string, o: LiveCli & MetricsCli & { readToken?: string; readTokenFile?: string }) => {
      try {
        parseListen(listen); // before anything else is checked or started
      } catch (e) {
        throw new UserError('BAD_LISTEN', (e as Error).message, 'give a port (loopback) or ADDR:PORT, e.g. exporter 9477 or exporter 0.0.0.0:9477');
      }
      const { exporterCommand } = await import('./commands/exporter.js');
      process.exitCode = await exporterCommand({ ...live(o), listen, metrics: metricsOpts(o), ...(o.readToken !== undefined ? { readToken: o.readToken } : {}), ...(o.readTokenFile !== undefined ? { readTokenFile: o.readTokenFile } : {}) });
    });

  program
    .command('attach')
    .description('The dashboard on a remote stream (exitscope serve, or top --serve, elsewhere): reconnects with backoff and shows the connection; f asks the server for a flame snapshot when the token has control rights.')
    .argument('<url>', 'the server, ws://HOST:PORT')
    .option('--token <token>', 'the token the server printed (needed unless it listens on loopback)')
    .option('--plain', 'a refreshing text table instead of the dashboard (the default without a TTY)')
    .option('-o, --output <file>', 'also record what arrives (same format as exitscope record)')
    .option('--duration <seconds>', '--plain: stop after this many seconds', intIn('--duration', 1, 31_536_000))
    .addOption(new Option('-w, --window <seconds>', 'rolling window').choices(['1', '10', '60']).default('10'))
    .addHelpText('after', `\nExamples:\n  exitscope attach ws://ci-host-7:8080 --token T\n  exitscope lab --forward 8080 --run 'exitscope serve 0.0.0.0:8080 --token T' &   then: exitscope attach ws://127.0.0.1:8080 --token T`)
    .action(async (url: string, o: { token?: string; plain?: boolean; output?: string; duration?: number; window: string }) => {
      const target = (await import('./commands/record-from.js')).streamUrl(url);
      if (process.stdout.isTTY && process.stdin.isTTY && !o.plain) {
        const { attachDashboard } = await loadDashboard();
        process.exitCode = await attachDashboard({ url: target, ...(o.token ? { token: o.token } : {}), windowSeconds: Number(o.window) as 1 | 10 | 60, ...(o.output ? { output: o.output } : {}) });
      } else {
        const { attachPlainCommand } = await import('./commands/attach-plain.js');
        process.exitCode = await attachPlainCommand({ url: target, ...(o.token ? { token: o.token } : {}), windowSeconds: Number(o.window), ...(o.output ? { output: o.output } : {}), ...(o.duration ? { duration: o.duration } : {}) });
      }
    });

  program
    .command('replay')
    .description('Play a recording back in the dashboard (on a terminal; q quits) or as text tables, interval by interval.')
    .argument('<file>', 'a recording from exitscope record, top -o or run')
    .option('--plain', 'text tables (the default without a TTY)')
    .option('--realtime', 'text tables at the recorded pace (the dashboard always plays at --speed)')
    .option('--speed <factor>', 'dashboard: play this many times faster than recorded (0: all at once)', numIn('--speed', 0, 1000), 1)
    .addOption(new Option('-w, --window <seconds>', 'rolling window').choices(['1', '10', '60']).default('10'))
    .action(async (file: string, o: { plain?: boolean; realtime?: boolean; speed: number; window: string }) => {
      if (process.stdout.isTTY && process.stdin.isTTY && !o.plain) {
        const { replayDashboard } = await loadDashboard();
        process.exitCode = await replayDashboard(file, { windowSeconds: Number(o.window) as 1 | 10 | 60, speed: o.speed });
      } else {
        const { replayCommand } = await import('./commands/replay.js');
        process.exitCode = await replayCommand(file, { realtime: o.realtime === true, windowSeconds: Number(o.window) });
      }
    });

  program
    .command('report')
    .description('Summarise a recording: per exit reason count, rate, share and latency; page faults; fault handlers; lost events; per VM and vCPU; hints.')
    .argument('<file>', 'a recording')
    .addOption(new Option('-f, --format <format>', 'output format; html: one self-contained page (report, charts over time, hints; works offline)').choices([...FORMATS, 'html']).default('text'))
    .option('-o, --output <file>', 'write the report to this file (atomically) instead of stdout')
    .addHelpText('after', `\nExamples:\n  exitscope report run.jsonl                        the text report\n  exitscope report run.jsonl -f json | jq .totalExits\n  exitscope report run.jsonl -f html -o run.html    one file to attach to a CI run or a bug\n\nAn HTML report is never written to a terminal: give -o FILE or redirect stdout. See docs/web.md.`)
    .action(async (file: string, o: { format: Format | 'html'; output?: string }) => {
      process.exitCode = o.format === 'html' ? (await import('./commands/report-html.js')).reportHtmlCommand(file, o.output) : (await import('./commands/replay.js')).reportCommand(file, o.format, o.output);
    });

  liveOptions(
    program
      .command('run')
      .description("Trace while COMMAND runs (for CI): print the report, save the recording, exit with COMMAND's status.")
      .argument('<command...>', 'the command and its arguments (put -- before it)')
      .option('-o, --output <file>', 'recording file', 'exitscope-run.jsonl')
      .option('--no-output', 'keep no recording')
      .addOption(new Option('-f, --format <format>', 'report format').choices([...FORMATS]).default('text'))
      .option('--report-file <file>', 'write the report here instead of stdout')
      .addOption(new Option('--scope', "run COMMAND in a fresh cgroup v2 and count only its threads' exits (VMs it starts included): jobs side by side counted apart").conflicts('cgroup'))
      .option('--baseline <file>', 'compare this run with a good one: a recording or a report -f json (exitscope baseline update)')
      .option('--fail-on <spec>', "rules against the baseline, e.g. 'total:+20%,EXCP_PF:>0,p99(IOIO):+100%' (repeatable; docs/ci.md): status 3 when COMMAND succeeded and one is broken", collect((v: string) => v), [] as string[])
      .option('--summary <file>', 'append a markdown summary (verdict, rules, what changed) to this file, e.g. "$GITHUB_STEP_SUMMARY"')
      .option('--junit <file>', 'write the rules as a JUnit XML report, one test case each (Jenkins, GitLab)')
      .addHelpText('after', `\nExamples:\n  exitscope run -- make integration-test\n  exitscope run --scope -- ./boot-test-vm.sh     only this job's VMs, whatever else runs on the host\n  exitscope run -f json --report-file exits.json -- ./ci.sh\n  exitscope run --baseline good.json --fail-on 'total:+20%,EXCP_PF:>0' --summary "$GITHUB_STEP_SUMMARY" --junit exits.xml -- ./ci.sh\n  exitscope lab --run 'exitscope run -- exitscope-workload npf 1031'\n\nExit status: COMMAND's own; 3 when COMMAND succeeded and a --fail-on rule is broken; 2 for an error of exitscope's.`),
  ).action(async (argv: string[], o: LiveCli & { output: string | false; format: Format; reportFile?: string; scope?: boolean; baseline?: string; failOn: string[]; summary?: string; junit?: string }) => {
    const gate = { ...(o.baseline ? { baseline: o.baseline } : {}), ...(o.failOn.length ? { failOn: parseFailOn(o.failOn) } : {}), ...(o.summary ? { summary: o.summary } : {}), ...(o.junit ? { junit: o.junit } : {}) };
    const { runCommand } = await import('./commands/run.js');
    process.exitCode = await runCommand(argv, { ...live(o), ...(o.scope ? { createCgroup: true } : {}), ...(o.output ? { output: o.output } : {}), format: o.format, ...(o.reportFile ? { reportFile: o.reportFile } : {}), ...gate });
  });

  program
    .command('diff')
    .description('Compare two runs (recordings, or report -f json files): per exit reason the counts, rates, shares and latency bounds side by side with the change; page-fault kinds, fault handlers, VMs (--by vm); hints about what changed. Differences are output: status 0.')
    .argument('<base>', 'the run to compare against (a healthy host, yesterday)')
    .argument('<new>', 'the run in question')
    .addOption(new Option('-f, --format <format>', 'output format').choices([...DIFF_FORMATS]).default('text'))
    .addOption(new Option('--by <what>', 'also compare per VM (matched by name)').choices(['vm']))
    .addHelpText('after', `\nExamples:\n  exitscope diff healthy.jsonl slow.jsonl              what changed between two hosts\n  exitscope diff base.json new.json -f markdown       for a PR comment or a CI summary\n  exitscope diff a.jsonl b.jsonl --by vm -f json | jq '.exits[] | select(.count.delta != 0)'\n\nSee docs/ci.md.`)
    .action(async (base: string, next: string, o: { format: DiffFormat; by?: 'vm' }) => {
      const { diffCommand } = await import('./commands/diff.js');
      process.exitCode = diffCommand(base, next, { format: o.format, byVm: o.by === 'vm' });
    });

  program
    .command('baseline')
    .description('Baselines for run --baseline: a report (report -f json) of a good run.')
    .command('update')
    .description('Write a baseline from a recording or a report (the same as run -f json --report-file FILE during the run).')
    .requiredOption('--from <file>', 'a recording (record, run -o) or a report -f json of a good run')
    .requiredOption('-o, --output <file>', 'the baseline file to write')
    .addHelpText('after', `\nExamples:\n  exitscope baseline update --from exitscope-run.jsonl -o ci/exits-baseline.json\n  exitscope run --baseline ci/exits-baseline.json --fail-on 'total:+20%' -- ./ci.sh`)
    .action(async (o: { from: string; output: string }) => {
      const { baselineUpdateCommand } = await import('./commands/baseline.js');
      process.exitCode = baselineUpdateCommand(o.from, o.output);
    });

  program
    .command('flame')
    .description(
      'Flame snapshot: sample the threads that take KVM exits (every VM, or one) for a while, with kernel and user stacks, ' +
        'and write folded stacks (FlameGraph, inferno, speedscope), an SVG flame graph and an interactive HTML page; ' +
        'then print the top frames. The root frame of each stack is the exit being handled ([exit NPF]) or [guest mode].',
    )
    .option('--seconds <s>', 'how long to sample', numIn('--seconds', 0.1, 3600), 5)
    .option('--hz <n>', 'samples per second per CPU (odd rates avoid lockstep with timers)', intIn('--hz', 1, 10_000), 99)
    .option('-p, --pid <pid>', 'sample only this VM process (repeatable)', collect(intIn('--pid', 1, 4_194_304)), [] as number[])
    .option('--vm <name>', 'sample only the VM with this name (QEMU -name / Proxmox)')
    .option('--cgroup <path>', 'sample only threads in this cgroup v2 and the cgroups below it (a libvirt VM: machine.slice/machine-qemu...scope)')
    .option('-o, --output <path>', 'PATH.folded, PATH.svg or PATH.html writes that one file; any other PATH is the base name of every --format (default exitscope-flame-DATE-TIME)')
    .option('--format <list>', `formats to write with a base name: ${FLAME_FORMATS.join(',')}`, wrap(parseFormats), [...FLAME_FORMATS] as FlameFormat[])
    .option('--no-reasons', 'no [exit REASON] root frame (kvm_entry is then not traced)')
    .option('--no-user', 'kernel stacks only (cheaper)')
    .option('--top <n>', 'frames in each top list', intIn('--top', 1, 100), 10)
    .option('--json', 'print the summary and file paths as JSON')
    .option('--raw <file>', "also save bpftrace's own output (for bug reports)")
    .option('-q, --quiet', 'no progress')
    .addHelpText('after', `\nExamples:\n  exitscope flame                         5 s of every VM, all formats in the current directory\n  exitscope flame --vm ci-runner-3 --seconds 10 -o /tmp/ci3\n  exitscope flame --cgroup 'machine.slice/machine-qemu\\x2d1\\x2dweb.scope'\n  exitscope flame -o stacks.folded && flamegraph.pl stacks.folded > out.svg\n  exitscope lab --run 'exitscope-workload npf 200000 & sleep 2; exitscope flame --seconds 3'\n\nNo samples (an idle guest sleeps in HLT) is an error, and Ctrl-C writes nothing.`)
    .action(async (o: { seconds: number; hz: number; pid: number[]; vm?: string; cgroup?: string; output?: string; format: FlameFormat[]; reasons: boolean; user: boolean; top: number; json?: boolean; quiet?: boolean; raw?: string }) => {
      const { flameCommand } = await import('./commands/flame.js');
      process.exitCode = await flameCommand({ seconds: o.seconds, hz: o.hz, pid: o.pid, ...(o.vm !== undefined ? { vm: o.vm } : {}), ...(o.cgroup !== undefined ? { cgroup: o.cgroup } : {}), ...(o.output !== undefined ? { output: o.output } : {}), formats: o.format, reasons: o.reasons, user: o.user, top: o.top, json: o.json === true, quiet: o.quiet === true, ...(o.raw !== undefined ? { raw: o.raw } : {}) });
    });

  // parse errors as error [USAGE] / fix:, status 2 (every subcommand is defined by now)
  throwUsageErrors(program);
  return program;
}

interface ServeCli extends MetricsCli {
  token?: string;
  readToken?: string;
  allowOrigin: string[];
}

interface MetricsCli {
  metricsMaxVms: number;
  metricsGoneGrace: number;
  metricsVcpu?: boolean;
}

/** The /metrics options of serve, top --serve and exporter (docs/metrics.md). */
function metricsOptions(c: Command): Command {
  return c
    .option('--metrics-max-vms <n>', '/metrics: at most N VMs by name at once; the rest count as vm="other"', intIn('--metrics-max-vms', 0, 1_000_000), METRICS_DEFAULTS.maxVms)
    .option('--metrics-gone-grace <seconds>', '/metrics: drop a VM this long after it is gone (its late counts still arrive)', intIn('--metrics-gone-grace', 0, 86_400), METRICS_DEFAULTS.goneGraceMs / 1000)
    .option('--metrics-vcpu', '/metrics: also label exitscope_exits_total by vcpu (more series)');
}

function metricsOpts(o: MetricsCli): Partial<MetricsOptions> {
  return { maxVms: o.metricsMaxVms, goneGraceMs: o.metricsGoneGrace * 1000, perVcpu: o.metricsVcpu === true };
}

function serveOpts(listen: string, o: ServeCli): ServeOptions {
  try {
    parseListen(listen); // before anything else is checked or started
  } catch (e) {
    throw new UserError('BAD_LISTEN', (e as Error).message, 'give a port (loopback) or ADDR:PORT, e.g. --serve 8080 or serve 0.0.0.0:8080');
  }
  return { listen, ...(o.token ? { token: o.token } : {}), ...(o.readToken ? { readToken: o.readToken } : {}), allowOrigin: o.allowOrigin, metrics: metricsOpts(o) };
}

interface LiveCli {
  interval: number;
  latency?: boolean;
  pid: number[];
  vm?: string;
  cgroup?: string;
  reason: string[];
  detail?: number;
  verbose?: boolean;
}

/** How often bpftrace prints its maps, unless -i says: each second for the views; see EXPORTER_INTERVAL_MS. */
const LIVE_INTERVAL_MS = 1000;
/**
 * The exporter's: Prometheus' usual scrape interval (deploy/prometheus scrapes every 15 s). It reads
 * the kernel 15 times less often than the views, whatever the scrapers do: at 1,000 VMs that is
 * 1.7% of a core instead of 6.4% (docs/benchmarks.md section 6). Counts stay exact; a scrape shows
 * them as of the last print, at most this old.
 */
export const EXPORTER_INTERVAL_MS = 15_000;

function liveOptions(c: Command, intervalMs = LIVE_INTERVAL_MS): Command {
  return c
    .option('-i, --interval <ms>', `how often bpftrace prints its maps; shorter is fresher and costs more, 250 about 1.8x the tracing's CPU and a dashboard frame each time: docs/benchmarks.md section 10${intervalMs !== LIVE_INTERVAL_MS ? ' (what a scrape shows is at most this old)' : ''}`, intIn('--interval', 100, 60_000), intervalMs)
    .option('-p, --pid <pid>', 'trace only this VM process (repeatable; filtered in the kernel)', collect(intIn('--pid', 1, 4_194_304)), [] as number[])
    .option('--vm <name>', 'trace only the VM with this name (QEMU -name / Proxmox)')
    .option('--cgroup <path>', 'count only threads in this cgroup v2 and the cgroups below it, e.g. a libvirt VM\'s machine.slice scope (filtered in the kernel)')
    .option('-r, --reason <reason>', 'count only this exit reason, by name (HLT) or number (0x78) (repeatable)', collect((v: string) => v), [] as string[])
    .option('--detail <n>', 'also stream up to N individual exits per interval (rate-limited in the kernel)', intIn('--detail', 1, 100_000))
    .option('--no-latency', 'do not time exits (kvm_entry not traced): the cheapest mode, counts stay exact')
    .option('-v, --verbose', "show bpftrace's own warnings");
}

function live(o: LiveCli): LiveOptions {
  return { interval: o.interval, pid: o.pid, ...(o.vm ? { vm: o.vm } : {}), ...(o.cgroup !== undefined ? { cgroup: o.cgroup } : {}), reason: o.reason, ...(o.detail ? { detail: o.detail } : {}), ...(o.latency === false ? { latency: false } : {}), ...(o.verbose ? { verbose: true } : {}) };
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (isHelpOrVersion(e)) {
      process.exitCode = 0;
      return;
    }
    if (isUserError(e)) {
      process.stderr.write(`${formatUserError(e)}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}
