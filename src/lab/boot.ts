/**
 * Boots the lab: prepares kernel and initramfs, starts QEMU, follows the
 * guest's console events, and hands back a handle on the running guest.
 * `run-command.ts` (one command, streamed) and `session.ts` (many commands,
 * for tests) are built on it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { EVENT_PREFIX } from './init-script.js';
import { buildInitramfs, planInitramfs } from './initramfs.js';
import { resolveKernel } from './kernel.js';
import { GUEST_BIN, guestCommands, ownTargets, writeGuestCommands } from './guest-commands.js';
import { cacheDir, repoRoot } from './paths.js';
import { INNER_SCRIPT, prepareUserland } from './userland/prepare.js';
import { guestError, requireFreePorts, requireQemu, requireRoot, requireStaticBusybox, requireTools } from './preflight.js';
import { type Forward, LAB_CPU, qemuArgs } from './qemu-args.js';
import { dyingWithUs } from '../process/parent-death.js';

export type LabMode = 'run' | 'shell' | 'session';

export interface LabOptions {
  mode: LabMode;
  /** The shell command for mode "run". */
  command?: string;
  npt: boolean;
  /** QEMU CPU model (default LAB_CPU). */
  cpuModel?: string;
  /** TCG threads: one for all vCPUs (default) or one per vCPU. */
  tcgThreads?: 'single' | 'multi';
  cpus: number;
  memoryMiB: number;
  kernel?: string;
  /** A Debian suite whose minimal root the command runs in (src/lab/userland/); default: the host's root. */
  userland?: string;
  /** Host directories the guest may write to, at the same path. */
  writable: string[];
  forwards: Forward[];
  /** Working directory of the command inside the guest (same path as on the host). */
  cwd: string;
  /** Called with a line for each boot step. */
  progress: (line: string) => void;
  /** Seconds the guest may take to become ready before it is stopped (default 180). */
  bootTimeoutSeconds?: number;
}

/** A running guest. */
export interface Lab {
  /** Host directory shared with the guest as /run/exitscope-lab. */
  ctlDir: string;
  /** The command's stdout and stderr streams (mode "run"), from the guest's serial ports. */
  stdout: Socket | undefined;
  stderr: Socket | undefined;
  /** Resolves when the guest says it is ready to run commands; rejects with the boot error. */
  ready: Promise<void>;
  /** Resolves with QEMU's exit when the guest is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The exit status the guest recorded for the command, if any. */
  status(): number | undefined;
  /** The last console lines, for error messages. */
  consoleTail(lines?: number): string;
  /** How QEMU ended and its last stderr lines (empty while it runs): a guest gone without a console word. */
  emulatorEnd(): string;
  /** Stops QEMU at once. */
  kill(): void;
  /** Removes the temporary files of this run. */
  cleanup(): void;
}

/**
 * Guest PATH: exitscope and exitscope-workload of this very copy first (GUEST_BIN: checkout or
 * installed package alike), then the host's usual directories.
 */
export function guestPath(): string {
  return [GUEST_BIN, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');
}

function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The config file /init sources from the ctl share. Values are validated numbers or quoted paths. */
export function labConfig(o: Pick<LabOptions, 'mode' | 'npt' | 'writable'>, net = true): string {
  const lines = [`MODE=${o.mode}`, `NPT=${o.npt ? 1 : 0}`, `NET=${net ? 1 : 0}`, `WRITABLE_COUNT=${o.writable.length}`];
  o.writable.forEach((d, i) => lines.push(`WRITABLE_${i}=${shq(d)}`));
  return `${lines.join('\n')}\n`;
}

/** The script the guest runs in the chroot: environment, working directory, then the mode's work. */
export function runScript(o: Pick<LabOptions, 'mode' | 'command' | 'cwd'>, path = guestPath(), defaults: Readonly<Record<string, string>> = {}): string {
  const head = [
    '# written by exitscope lab (src/lab/boot.ts)',
    `export PATH=${shq(path)}`,
    'export HOME=/root TERM=${TERM:-linux} EXITSCOPE_LAB=1 EXITSCOPE_LAB_CTL=/run/exitscope-lab',
    // a lab's own defaults: a value the command sets itself (VAR=... exitscope ...) wins
    ...Object.entries(defaults).map(([k, v]) => {
      if (!/^[A-Z][A-Z0-9_]*$/.test(k)) throw new Error(`runScript: bad variable name ${k}`);
      return `export ${k}=\${${k}:-${shq(v)}}`;
    }),
    `cd ${shq(o.cwd)} || exit 126`,
  ];
  switch (o.mode) {
    case 'run':
      if (!o.command) throw new Error('runScript: mode "run" needs a command');
      return [...head, o.command, ''].join('\n');
    case 'shell':
      return [...head, 'export PS1="lab# "', 'echo "exitscope lab: a shell in the guest; exit to power off"', 'exec /bin/sh -i', ''].join('\n');
    case 'session':
      // Commands arrive as cmd-N.sh in the ctl share; results go back beside them.
      return [
        ...head,
        'S=/run/exitscope-lab',
        'n=0',
        'while [ ! -e $S/quit ]; do',
        '  if [ -e $S/cmd-$n.sh ]; then',
        `    (cd ${shq(o.cwd)} && sh $S/cmd-$n.sh) > $S/cmd-$n.out 2> $S/cmd-$n.err < /dev/null`,
        '    echo $? > $S/cmd-$n.tmp && mv $S/cmd-$n.tmp $S/cmd-$n.status',
        '    n=$((n + 1))',
        '  else',
        '    sleep 0.05',
        '  fi',
        'done',
        '',
      ].join('\n');
  }
}

async function listen(path: string): Promise<{ server: Server; connection: Promise<Socket> }> {
  const server = createServer();
  const connection = new Promise<Socket>((resolveConn) => server.once('connection', resolveConn));
  server.listen(path);
  await once(server, 'listening');
  return { server, connection };
}

export async function bootLab(o: LabOptions): Promise<Lab> {
  const started = Date.now();
  const say = (msg: string): void => o.progress(`[lab ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}`);

  requireRoot();
  const qemu = requireQemu();
  const busybox = requireStaticBusybox();
  requireTools();
  await requireFreePorts(o.forwards);
  const writable = o.writable.map((d) => resolve(d));

  const cache = cacheDir();
  const kernel = await resolveKernel({ cache, ...(o.kernel ? { kernel: o.kernel } : {}), progress: say });
  say(`kernel ${kernel.version} (${kernel.origin ? `${kernel.origin}, ` : ''}${kernel.source})`);
  const initramfs = buildInitramfs(planInitramfs(kernel, busybox), join(cache, 'initramfs'));
  say(`initramfs ${initramfs.reused ? 'cached' : 'built'}`);
  const userland = o.userland ? await prepareUserland(o.userland, { cache, cwd: o.cwd, writable, packageRoot: repoRoot(), progress: say }) : undefined;
  if (userland) say(`userland ${userland.suite} (${userland.root})`);

  const runDir = mkdtempSync(join(tmpdir(), 'exitscope-lab-'));
  const ctlDir = join(runDir, 'ctl');
  mkdirSync(ctlDir);
  writeFileSync(join(ctlDir, 'config'), labConfig({ ...o, writable }));
  if (userland) {
    // /init runs run.sh in the host's root: it enters the userland and runs the lab's script there
    writeFileSync(join(ctlDir, 'run.sh'), userland.entryScript);
    writeFileSync(join(ctlDir, INNER_SCRIPT), runScript(o));
  } else writeFileSync(join(ctlDir, 'run.sh'), runScript(o));
  writeGuestCommands(join(ctlDir, 'bin'), guestCommands(userland ? userland.targets : ownTargets()));
  const sockets = { console: join(runDir, 'con.sock'), stdout: join(runDir, 'out.sock'), stderr: join(runDir, 'err.sock') };
  const con = await listen(sockets.console);
  const out = o.mode === 'shell' ? undefined : await listen(sockets.stdout);
  const err = await listen(sockets.stderr);

  const args = qemuArgs({
    cpuModel: o.cpuModel ?? LAB_CPU,
    tcgThreads: o.tcgThreads ?? 'single',
    cpus: o.cpus,
    memoryMiB: o.memoryMiB,
    vmlinuz: kernel.vmlinuz,
    initramfs: initramfs.path,
    sockets,
    interactive: o.mode === 'shell',
    ctlDir,
    writable,
    forwards: o.forwards,
    hostRoot: '/',
  });
  const consoleLog: WriteStream = createWriteStream(join(runDir, 'console.log'));
  const qemuLog = join(runDir, 'qemu.log');
  // dies with us even when we are SIGKILLed: a QEMU left behind takes a core until someone notices
  const [file, ...argv] = dyingWithUs([qemu, ...args]);
  const child: ChildProcess = spawn(file as string, argv, {
    stdio: [o.mode === 'shell' ? 'inherit' : 'ignore', o.mode === 'shell' ? 'inherit' : 'ignore', 'pipe'],
  });
  const qemuStderr: Buffer[] = [];
  child.stderr?.on('data', (d: Buffer) => qemuStderr.push(d));
  say(`booting (QEMU TCG, ${o.cpus} vCPU${o.cpus > 1 ? 's' : ''}, ${o.memoryMiB} MiB, npt ${o.npt ? 'on' : 'off'})`);

  let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => {
      writeFileSync(qemuLog, Buffer.concat(qemuStderr));
      ended = { code, signal };
      res(ended);
    });
  });
  /** QEMU's stderr lines, without its warnings about CPU features TCG lacks (every boot has them). */
  const qemuErrors = (): string[] =>
    Buffer.concat(qemuStderr)
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0 && !/doesn't support requested feature/.test(l));

  const tail: string[] = [];
  let failure: { code: string; message: string } | undefined;
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  ready.catch(() => undefined); // observed by the caller; avoid an unhandled rejection if it is not
  // A guest that never gets ready (a hung boot) becomes an error, not a hang.
  const bootTimeout = o.bootTimeoutSeconds ?? 180;
  let bootTimedOut = false;
  const watchdog = setTimeout(() => {
    bootTimedOut = true;
    child.kill('SIGKILL');
  }, bootTimeout * 1000);
  void ready.then(
    () => clearTimeout(watchdog),
    () => clearTimeout(watchdog),
  );

  void con.connection.then((sock) => {
    let buf = '';
    sock.on('data', (d: Buffer) => {
      consoleLog.write(d);
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        tail.push(line);
        if (tail.length > 40) tail.shift();
        onConsoleLine(line);
      }
    });
  });

  function onConsoleLine(line: string): void {
    const at = line.indexOf(EVENT_PREFIX);
    if (at < 0) return;
    const [kind, what, ...rest] = line.slice(at + EVENT_PREFIX.length).trim().split(' ');
    if (kind === 'stage') {
      if (what === 'init') say('guest kernel running');
      else if (what === 'modules') say('virtio and 9p loaded');
      else if (what === 'kvm') say(`KVM ready (/dev/kvm, ${rest.join(' ')})`);
      else if (what === 'ready') {
        say('ready');
        readyResolve();
      }
    } else if (kind === 'error') {
      failure = { code: what ?? 'unknown', message: rest.join(' ') };
    } else if (kind === 'note') {
      say(`note: ${[what, ...rest].join(' ')}`);
    }
  }

  void exited.then(({ code, signal }) => {
    if (bootTimedOut) {
      readyReject(
        new UserError(
          'LAB_BOOT_TIMEOUT',
          `the guest was not ready after ${bootTimeout} s and was stopped\n  guest console (last lines):\n${tail.slice(-15).map((l) => `    ${l}`).join('\n')}`,
          'retry; if it happens again, look at ~/.cache/exitscope/lab/last-console.log and at the load of this machine',
        ),
      );
    } else if (failure) {
      readyReject(guestError(failure.code, failure.message, tail.slice(-15).join('\n')));
    } else {
      const qerr = qemuErrors();
      readyReject(
        new UserError(
          'LAB_QEMU_EXITED',
          `QEMU exited (${signal ?? `status ${code}`}) before the guest was ready${qerr.length ? `:\n    ${qerr.slice(-5).join('\n    ')}` : ''}\n  guest console (last lines):\n${tail.slice(-15).map((l) => `    ${l}`).join('\n')}`,
          `see ${join(cache, 'lab', 'last-console.log')}; check that qemu-system-x86 is installed and works (qemu-system-x86_64 --version)`,
        ),
      );
    }
  });

  const stdout = out ? await Promise.race([out.connection, exited.then(() => undefined)]) : undefined;
  const stderr = await Promise.race([err.connection, exited.then(() => undefined)]);
  for (const s of [con, out, err]) s?.server.close();

  return {
    ctlDir,
    stdout,
    stderr,
    ready,
    exited,
    status() {
      try {
        const n = Number.parseInt(readFileSync(join(ctlDir, 'status'), 'utf8').trim(), 10);
        return Number.isNaN(n) ? undefined : n;
      } catch {
        return undefined;
      }
    },
    consoleTail(lines = 15) {
      return tail.slice(-lines).join('\n');
    },
    emulatorEnd() {
      if (!ended) return '';
      const qerr = qemuErrors().slice(-5);
      return `QEMU exited (${ended.signal ?? `status ${ended.code}`})${qerr.length ? `:\n    ${qerr.join('\n    ')}` : ', nothing on its stderr'}`;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    cleanup() {
      consoleLog.end();
      const keep = join(cache, 'lab');
      mkdirSync(keep, { recursive: true });
      try {
        writeFileSync(join(keep, 'last-console.log'), readFileSync(join(runDir, 'console.log')));
      } catch {
        // nothing logged
      }
      try {
        writeFileSync(join(keep, 'last-qemu.log'), readFileSync(qemuLog));
      } catch {
        // QEMU still running (cleanup after kill) or nothing written
      }
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}
