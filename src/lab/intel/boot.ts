/**
 * Boots the Intel lab: kernel and initramfs (shared with the QEMU lab's cache), the cached boot
 * ISO, this run's ISO and output disk, then Bochs in a run directory of its own; follows the
 * serial files and hands back a handle on the running guest. run.ts is built on it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, openSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../../errors.js';
import { guestPath, runScript } from '../boot.js';
import { guestCommands, ownTargets } from '../guest-commands.js';
import { buildInitramfs } from '../initramfs.js';
import { resolveKernel } from '../kernel.js';
import { cacheDir, repoRoot } from '../paths.js';
import { requireRoot, requireStaticBusybox, which } from '../preflight.js';
import { BOCHS_CPU, bochsrc, RUN_FILES } from './bochsrc.js';
import { createOutDisk } from './copy-back.js';
import { buildIso, cachedBootIso } from './iso-build.js';
import { planBootIso, planRunIso } from './iso-plan.js';
import { planIntelInitramfs } from './initramfs.js';
import { packageFiles } from './package-files.js';
import { displayIsolation, intelGuestError, ISOLINUX_BIN, LDLINUX_C32, requireBochs, requireBpftrace, requireIntelFiles, requireIntelTools } from './preflight.js';
import { lddClosure, mergeRootFiles } from './rootfs.js';
import { FileFollower, type GuestEvent, LineSplitter, parseEvent } from './serial-protocol.js';
import { createCtlDisk, requestStop, STOP_GRACE_GUEST_SECONDS } from './stop-request.js';
import { dyingWithUs } from '../../process/parent-death.js';
import { INTEL_GUEST_ENV_DEFAULTS } from './guest-env.js';

export interface IntelLabOptions {
  /** The shell command line to run. */
  command: string;
  /** EPT (kvm_intel ept=1) or shadow paging. */
  npt: boolean;
  memoryMiB: number;
  /** Bochs CPU model (default BOCHS_CPU). */
  cpuModel?: string;
  kernel?: string;
  /** The command's directory (same path in the guest). */
  cwd: string;
  /** Copy the directory in and what the command writes there back (default true). */
  copyCwd: boolean;
  progress: (line: string) => void;
  /**
   * Seconds the guest may take to become ready (default 900: a boot takes 1-2 minutes on an idle
   * machine, but Bochs runs on one host core and a loaded machine has seen 7; most of it, the
   * kernel unpacking itself, prints nothing to watch).
   */
  bootTimeoutSeconds?: number;
}

export interface IntelLab {
  /** Resolves when the guest starts the command; rejects with the boot error. */
  ready: Promise<void>;
  /** Resolves when Bochs is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Hands over the command's output as it arrives (call once). */
  onOutput(stdout: (b: Buffer) => void, stderr: (b: Buffer) => void): void;
  /** Reads what is left in the serial files (after Bochs exited). */
  drain(): void;
  /** The command's status, from the guest's "status N" line. */
  status(): number | undefined;
  /** Files the guest wrote to the output disk, once it said so. */
  copied(): number | undefined;
  /** The guest's copy-back error, if any. */
  failure(): UserError | undefined;
  outDisk: string;
  consoleTail(lines?: number): string;
  /** Asks the guest to stop the command (SIGINT, then SIGKILL): the copy-back still happens. */
  requestStop(): void;
  kill(): void;
  cleanup(): void;
}

function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The config /init sources from the run ISO. */
export function intelLabConfig(o: { npt: boolean; cwd: string; copyCwd: boolean }): string {
  return [`NPT=${o.npt ? 1 : 0}`, `CWD=${shq(o.cwd)}`, `COPY_BACK=${o.copyCwd && o.cwd !== '/' ? 1 : 0}`, ''].join('\n');
}

/** A current directory bigger than this is refused: it all goes on the run ISO and into guest RAM. */
export const CWD_LIMIT_BYTES = 512 * 1024 * 1024;

/** Bytes under `dir` (regular files; symlinks not followed), stopping once past `limit`. */
export function treeBytes(dir: string, limit: number): number {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0 && total <= limit) {
    const d = stack.pop() as string;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) total += lstatSync(p).size;
    }
  }
  return total;
}

export async function bootIntelLab(o: IntelLabOptions): Promise<IntelLab> {
  const started = Date.now();
  const say = (msg: string): void => o.progress(`[lab ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}`);

  requireRoot();
  const bochs = requireBochs();
  requireIntelFiles();
  requireIntelTools();
  const busybox = requireStaticBusybox();
  const bpftrace = requireBpftrace();
  const display = await displayIsolation();
  const cwd = resolve(o.cwd);
  if (o.copyCwd && cwd !== '/' && treeBytes(cwd, CWD_LIMIT_BYTES) > CWD_LIMIT_BYTES)
    throw new UserError('LAB_CWD_TOO_BIG', `${cwd} holds more than ${CWD_LIMIT_BYTES >> 20} MiB: the Intel lab copies the current directory into the guest`, 'run from a smaller directory, or pass --no-writable to run in an empty one');

  const cache = cacheDir();
  const kernel = await resolveKernel({ cache, ...(o.kernel ? { kernel: o.kernel } : {}), progress: say });
  say(`kernel ${kernel.version} (${kernel.source})`);
  const initramfs = buildInitramfs(planIntelInitramfs(kernel, busybox), join(cache, 'initramfs'));
  say(`initramfs ${initramfs.reused ? 'cached' : 'built'}`);
  const perf = which('perf');
  const rootFiles = mergeRootFiles([process.execPath, bpftrace, ...(perf ? [perf] : [])].map((b) => lddClosure(b)));
  const boot = await cachedBootIso(planBootIso({ vmlinuz: kernel.vmlinuz, initramfs: initramfs.path, isolinuxBin: ISOLINUX_BIN, ldlinux: LDLINUX_C32, rootFiles }), join(cache, 'intel'), say);
  say(`boot ISO ${boot.reused ? 'cached' : 'built'}`);

  const runDir = mkdtempSync(join(tmpdir(), 'exitscope-intel-'));
  const file = (name: string): string => join(runDir, name);
  try {
    symlinkSync(boot.path, file(RUN_FILES.bootIso));
    createOutDisk(file(RUN_FILES.outDisk));
    createCtlDisk(file(RUN_FILES.ctlDisk));
    await buildIso(
      planRunIso({
        config: intelLabConfig({ npt: o.npt, cwd, copyCwd: o.copyCwd }),
        runScript: runScript({ mode: 'run', command: o.command, cwd }, guestPath(), INTEL_GUEST_ENV_DEFAULTS),
        commands: guestCommands(ownTargets()),
        packagePaths: packageFiles(repoRoot()),
        cwd,
        copyCwd: o.copyCwd,
      }),
      file(RUN_FILES.runIso),
    );
    writeFileSync(file('bochsrc'), bochsrc({ memoryMiB: o.memoryMiB, ...(o.cpuModel ? { cpuModel: o.cpuModel } : {}) }));
  } catch (e) {
    rmSync(runDir, { recursive: true, force: true });
    throw e;
  }
  say(`run ISO built (${o.copyCwd && cwd !== '/' ? `exitscope and ${cwd}` : 'exitscope'}); in the guest, by default: ${Object.entries(INTEL_GUEST_ENV_DEFAULTS).map(([k, v]) => `${k}=${v}`).join(' ')} (docs/lab.md)`);

  // dies with us even when we are SIGKILLed (setpriv, then unshare, exec in turn: one pid)
  const argv = dyingWithUs(display.kind === 'netns' ? [display.unshare, '--net', '--', bochs, '-q', '-f', 'bochsrc'] : [bochs, '-q', '-f', 'bochsrc']);
  // Debian's Bochs has its debugger built in: it waits at a prompt, and "c" continues. It comes from
  // a file, not a pipe: with no viewer, Bochs' rfb display sends its frames to fd 0 (its unset client
  // socket), which on a file fails at once but on Node's pipe (a socket pair) blocks Bochs for good.
  writeFileSync(file('debugger-input'), 'c\n');
  const stdin = openSync(file('debugger-input'), 'r');
  const child: ChildProcess = spawn(argv[0] as string, argv.slice(1), { cwd: runDir, stdio: [stdin, 'ignore', 'pipe'] });
  closeSync(stdin);
  const bochsStderr: Buffer[] = [];
  child.stderr?.on('data', (d: Buffer) => bochsStderr.push(d));
  say(`booting (Bochs ${o.cpuModel ?? BOCHS_CPU}, 1 vCPU, ${o.memoryMiB} MiB, ept ${o.npt ? 'on' : 'off'}${display.kind === 'port' ? `; its display listens on 0.0.0.0:${display.port}` : ''}; 1-2 minutes)`);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));

  const followers = { console: new FileFollower(file(RUN_FILES.console)), stdout: new FileFollower(file(RUN_FILES.stdout)), stderr: new FileFollower(file(RUN_FILES.stderr)) };
  const consoleLines = new LineSplitter();
  const consoleLog: Buffer[] = [];
  const tail: string[] = [];
  let status: number | undefined;
  let copied: number | undefined;
  let bootFailure: { code: string; message: string } | undefined;
  let copyFailure: UserError | undefined;
  let isReady = false;
  let out: ((b: Buffer) => void) | undefined;
  let err: ((b: Buffer) => void) | undefined;
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  ready.catch(() => undefined);

  const onEvent = (e: GuestEvent): void => {
    switch (e.kind) {
      case 'stage':
        if (e.stage === 'init') say('guest kernel running');
        else if (e.stage === 'modules') say('disk and CD-ROM drivers loaded');
        else if (e.stage === 'media') say('boot and run ISOs mounted');
        else {
          isReady = true;
          say('ready');
          readyResolve();
        }
        break;
      case 'kvm':
        say(`KVM ready (/dev/kvm, kvm_intel ept=${e.ept ? 'Y' : 'N'} unrestricted_guest=${e.unrestrictedGuest ? 'Y' : 'N'})`);
        break;
      case 'note':
        say(`note: ${e.message}`);
        break;
      case 'stopping':
        say(`the command got SIGINT in the guest (SIGKILL in ${STOP_GRACE_GUEST_SECONDS} guest seconds if it is still there); what it wrote comes back`);
        break;
      case 'error':
        if (isReady) copyFailure = intelGuestError(e.code, e.message, '');
        else bootFailure = { code: e.code, message: e.message };
        break;
      case 'status':
        status = e.status;
        break;
      case 'copied':
        copied = e.files;
        break;
      case 'done':
        // the guest powers off in a few seconds; a Bochs that lingers is stopped
        setTimeout(() => child.kill('SIGKILL'), 30_000).unref();
        break;
    }
  };

  const poll = (): void => {
    const c = followers.console.read();
    if (c.length > 0) {
      consoleLog.push(c);
      consoleLines.push(c.toString('utf8'), (line) => {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        const e = parseEvent(line);
        if (e) onEvent(e);
      });
    }
    if (out) {
      const b = followers.stdout.read();
      if (b.length > 0) out(b);
    }
    if (err) {
      const b = followers.stderr.read();
      if (b.length > 0) err(b);
    }
  };
  const poller = setInterval(poll, 100);

  const bootTimeout = o.bootTimeoutSeconds ?? 900;
  let bootTimedOut = false;
  const watchdog = setTimeout(() => {
    bootTimedOut = true;
    child.kill('SIGKILL');
  }, bootTimeout * 1000);
  void ready.then(
    () => clearTimeout(watchdog),
    () => clearTimeout(watchdog),
  );

  void exited.then(({ code, signal }) => {
    clearInterval(poller);
    poll();
    if (isReady) return;
    const lines = tail.slice(-15).map((l) => `    ${l}`).join('\n');
    if (bootTimedOut) {
      readyReject(new UserError('LAB_BOOT_TIMEOUT', `the guest was not ready after ${bootTimeout} s and was stopped\n  guest console (last lines):\n${lines}`, 'retry; if it happens again, look at ~/.cache/exitscope/lab/last-console.log and at the load of this machine'));
    } else if (bootFailure) {
      readyReject(intelGuestError(bootFailure.code, bootFailure.message, tail.slice(-15).join('\n')));
    } else {
      const log = (() => {
        try {
          return readFileSync(file(RUN_FILES.log), 'utf8').split('\n').filter((l) => /PANIC|FATAL|\]p\[/.test(l)).slice(-5);
        } catch {
          return [];
        }
      })();
      const stderr = Buffer.concat(bochsStderr).toString('utf8').trim().split('\n').filter((l) => l.length > 0).slice(-5);
      readyReject(
        new UserError(
          'LAB_BOCHS_EXITED',
          `Bochs exited (${signal ?? `status ${code}`}) before the guest was ready${[...log, ...stderr].length ? `:\n    ${[...log, ...stderr].join('\n    ')}` : ''}\n  guest console (last lines):\n${lines}`,
          "check that Debian 12's bochs, bochsbios and vgabios are installed (bochs-bin --help); see ~/.cache/exitscope/lab/last-console.log",
        ),
      );
    }
  });

  return {
    ready,
    exited,
    onOutput(stdout, stderr) {
      out = stdout;
      err = stderr;
    },
    drain: poll,
    status: () => status,
    copied: () => copied,
    failure: () => copyFailure,
    outDisk: file(RUN_FILES.outDisk),
    consoleTail(lines = 15) {
      return tail.slice(-lines).join('\n');
    },
    requestStop() {
      requestStop(file(RUN_FILES.ctlDisk));
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    cleanup() {
      clearInterval(poller);
      for (const f of Object.values(followers)) f.close();
      const keep = join(cache, 'lab');
      mkdirSync(keep, { recursive: true });
      writeFileSync(join(keep, 'last-console.log'), Buffer.concat(consoleLog));
      // EXITSCOPE_LAB_KEEP=1 keeps the run directory (bochsrc, bochs.log, serial files) to debug a boot
      if (process.env.EXITSCOPE_LAB_KEEP === '1') o.progress(`[lab] kept ${runDir}`);
      else rmSync(runDir, { recursive: true, force: true });
    },
  };
}
