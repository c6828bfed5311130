/**
 * `exitscope run -- COMMAND`: trace while COMMAND runs (for CI), then print the
 * report, keep the recording, and exit with COMMAND's status.
 */
import { constants } from 'node:os';
import { UserError } from '../errors.js';
import { writeUserFile } from '../io/user-file.js';
import { type Format, formatReport } from '../report/format.js';
import { buildReport } from '../report/report.js';
import { type Live, type LiveOptions, onInterrupt, startLive } from './live.js';
import { leaveRunCgroup, removeRunCgroup } from '../scope/run-cgroup.js';
import { sayRemoval } from '../scope/removal-notice.js';
import type { spawnInCgroup } from '../scope/spawn-in-cgroup.js';
import { spawnWithResult } from '../process/child-result.js';
import { finishGate, type GateOptions, prepareGate } from '../gate/run-gate.js';

/** COMMAND in the cgroup made for --scope; if it cannot be put there, tracing stops and the cgroup goes. */
async function startScoped(argv: string[], live: Live, spawn: typeof spawnInCgroup): ReturnType<typeof spawnInCgroup> {
  try {
    return await spawn(argv, (live.cgroup as NonNullable<Live['cgroup']>).path);
  } catch (e) {
    await live.stop().catch(() => undefined);
    if (live.cgroup) await removeRunCgroup(live.cgroup);
    throw e;
  }
}

/**
 * COMMAND on our terminal. A SIGTERM passed on to it is followed by SIGKILL 5 s later if it is
 * still running, and exitscope exiting under it (process.exit, an uncaught exception) sends it
 * SIGTERM. Unlike execa's cleanup (signal-exit) before, a signal exitscope does not handle (SIGHUP,
 * SIGQUIT) leaves COMMAND running: installing handlers for those is what tracer-process.ts warns of.
 */
function startCommand(argv: string[]): ReturnType<typeof spawnWithResult> {
  const child = spawnWithResult(argv[0] as string, argv.slice(1), { stdio: 'inherit', forceKillAfterDelay: 5000 });
  const orphaned = (): void => void child.kill('SIGTERM');
  process.once('exit', orphaned);
  void child.then(() => process.removeListener('exit', orphaned));
  return child;
}

export interface RunOptions extends LiveOptions, GateOptions {
  format: Format;
  reportFile?: string;
}

export async function runCommand(argv: string[], o: RunOptions): Promise<number> {
  if (argv.length === 0) throw new UserError('NO_COMMAND', 'exitscope run needs a command to run', 'exitscope run -- make test');
  // --baseline/--fail-on: read and checked before anything is traced (src/gate/)
  const gate = await prepareGate(o);
  // Signals are ours from the start (attaching takes seconds): the first stops in order, a second
  // exits at once (onInterrupt). SIGTERM comes to exitscope alone (a CI timeout, kill): it is passed
  // on to COMMAND, so that the run ends as if COMMAND had ended. SIGINT (Ctrl-C) reaches COMMAND and
  // bpftrace through the terminal's process group already; bpftrace's final totals come then, and it
  // must not be restarted while COMMAND winds down.
  let live: Live | undefined;
  let child: { kill(signal?: NodeJS.Signals): boolean } | undefined;
  let interruptedEarly = false;
  // a signal that came while COMMAND was being started (--scope: the move into its cgroup)
  let pending: NodeJS.Signals | undefined;
  const off = onInterrupt(
    (signal) => {
      if (!live || !child) {
        interruptedEarly = true;
        pending ??= signal;
      }
      live?.collector.interrupted();
      if (signal === 'SIGTERM') child?.kill('SIGTERM');
    },
    () => {
      // the second signal: COMMAND goes too, and the cgroup made for it if it is empty by then
      child?.kill('SIGKILL');
      if (live?.cgroup?.created) leaveRunCgroup(live.cgroup.path);
    },
  );
  // --scope starts COMMAND through spawn-in-cgroup.ts (execa, which other runs never load): loaded
  // while bpftrace attaches, not after, so that nothing is loading between the first snapshot and COMMAND
  const scopeModule = o.createCgroup ? import('../scope/spawn-in-cgroup.js') : undefined;
  scopeModule?.catch(() => undefined); // awaited below; its failure is thrown there
  try {
    live = await startLive(o);
    const spawnScoped = scopeModule ? (await scopeModule).spawnInCgroup : undefined;
    if (interruptedEarly) {
      await stopAndRemoveCgroup(live);
      return 130;
    }
    // --scope: COMMAND starts in the fresh cgroup the program counts (src/scope/)
    const started = live.cgroup?.created && spawnScoped ? (await startScoped(argv, live, spawnScoped)).child : startCommand(argv);
    child = started;
    if (pending) started.kill(pending);
    const result = await started;
    await stopAndRemoveCgroup(live);
    if (result.failed && result.exitCode === undefined && !result.signal)
      throw new UserError('COMMAND_FAILED', `could not run ${argv[0]}: ${result.shortMessage}`, 'check the command name and PATH');
    const report = buildReport(live.agg);
    const text = formatReport(report, o.format);
    if (o.reportFile) writeUserFile(o.reportFile, text, 'REPORT_WRITE', '--report-file');
    else process.stdout.write(text);
    if (live.recording) process.stderr.write(`exitscope: recording written to ${live.recording.path} (${live.recording.lines} messages)\n`);
    return finishGate(gate, report, exitStatus(result.exitCode, result.signal), live.recording?.path ?? 'this run');
  } finally {
    off();
  }
}

/** Stops tracing (final totals, the recording closed) and removes the --scope cgroup, even when the stop fails (a full disk). */
async function stopAndRemoveCgroup(live: Live): Promise<void> {
  try {
    await live.stop();
  } finally {
    if (live.cgroup?.created) sayRemoval(live.cgroup.path, await removeRunCgroup(live.cgroup));
  }
}

/** The status a shell gives: the command's own, or 128 + the number of the signal that killed it. */
export function exitStatus(code: number | undefined, signal: NodeJS.Signals | undefined): number {
  if (code !== undefined) return code;
  if (signal) return 128 + (constants.signals[signal] ?? 15);
  return 1;
}
