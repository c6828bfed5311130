/**
 * e2e helpers: one lab guest per test file (boot once, run many commands),
 * and a workload run under the oracle (perf stat in the same guest).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOracle, oracleArgv, type OracleCounts } from '../../src/lab/oracle.js';
import { repoRoot } from '../../src/lab/paths.js';
import { LabSession } from '../../src/lab/session.js';
import { UserError } from '../../src/errors.js';
import { parseTally, type Scenario, workloadArgs, workloadPath, type WorkloadTally } from '../../src/lab/workload.js';

export const REPO = repoRoot();

export interface LabHandle {
  session: LabSession;
  /** A host directory the guest can write to (same path inside). */
  outDir: string;
}

/**
 * Boots well inside the hook's timeout (a normal boot takes ~10 s) and retries once: a boot that
 * hangs (seen once in CI, on a loaded machine) is reported with its console and does not fail the file.
 */
export async function startLab(opts: { npt: boolean; cpus?: number; forwards?: { hostPort: number; guestPort: number }[] }): Promise<LabHandle> {
  try {
    return await startLabOnce(opts);
  } catch (e) {
    if (!(e instanceof UserError) || e.code !== 'LAB_BOOT_TIMEOUT') throw e;
    process.stderr.write(`e2e: the lab did not boot; retrying once
${e.message}
`);
    return startLabOnce(opts);
  }
}

async function startLabOnce(opts: { npt: boolean; cpus?: number; forwards?: { hostPort: number; guestPort: number }[] }): Promise<LabHandle> {
  const outDir = mkdtempSync(join(tmpdir(), 'exitscope-e2e-'));
  const session = await LabSession.start({
    bootTimeoutSeconds: 75,
    npt: opts.npt,
    cpus: opts.cpus ?? 2,
    memoryMiB: 2048,
    writable: [outDir],
    forwards: opts.forwards ?? [],
    cwd: REPO,
    progress: (line) => {
      if (process.env.EXITSCOPE_E2E_VERBOSE) process.stderr.write(`${line}\n`);
    },
  });
  return { session, outDir };
}

export interface OracleRun {
  tally: WorkloadTally;
  oracle: OracleCounts;
}

let runs = 0;

/** Runs the workload under `perf stat -a` in the guest; returns its own tally and the kernel's counts. */
export async function runUnderOracle(lab: LabHandle, scenario: Scenario, n: number, vcpus = 1): Promise<OracleRun> {
  const csv = `/tmp/oracle-${runs++}.csv`;
  // Every word is a validated number, a fixed name or a path of ours: safe to join for sh.
  const argv = oracleArgv([workloadPath(REPO), ...workloadArgs(scenario, n, vcpus)], csv);
  const command = `${argv.map((a) => (/^[\w/.:=,-]+$/.test(a) ? a : `'${a}'`)).join(' ')} && cat ${csv} >&2`;
  const r = await lab.session.exec(command);
  if (r.status !== 0) throw new Error(`workload under perf failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  const perfCsv = r.stderr.slice(r.stderr.indexOf('# started on'));
  return { tally: parseTally(r.stdout), oracle: parseOracle(perfCsv) };
}

/** For each reason the tally expects, the kernel's count beside it. */
export function compare(run: OracleRun): { name: string; reason: number; expected: number; kernel: number | undefined }[] {
  return run.tally.expected.map((e) => ({ name: e.name, reason: e.reason, expected: e.count, kernel: run.oracle.exitsByReason.get(e.reason) }));
}
