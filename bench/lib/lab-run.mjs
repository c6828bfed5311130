// Runs a benchmark's guest part in the lab and watches it: a guest that prints nothing for
// `stallSeconds` is taken for stuck (QEMU 7.2's multi-threaded TCG sometimes deadlocks the guest:
// QEMU busy, the command making no progress) and stopped, and the next attempt of `plan` runs.
// Every attempt is reported (its TCG mode, how it ended, how long it took), so a results file
// can say what happened instead of a benchmark hanging or silently re-running.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const log = (s) => process.stderr.write(`bench: ${s}\n`);

/**
 * plan: the attempts in order, e.g. [{ tcg: 'multi' }, { tcg: 'multi' }, { tcg: 'single' }];
 * command(attempt): the guest command line for that attempt. Stops at the first that succeeds.
 * Resolves with { ok, attempts: [{ tcg, outcome: 'ok' | 'stalled' | 'failed', status, seconds }] }.
 */
export async function runInLab({ repo, plan, command, labArgs = [], stallSeconds = 300, timeoutSeconds = 3600 }) {
  const attempts = [];
  for (const attempt of plan) {
    const started = Date.now();
    log(`lab attempt ${attempts.length + 1} of ${plan.length} (--tcg ${attempt.tcg})`);
    const { status, stalled } = await once(repo, ['lab', '-q', '--tcg', attempt.tcg, '--timeout', String(timeoutSeconds), ...labArgs, '--run', command(attempt)], stallSeconds);
    const outcome = status === 0 ? 'ok' : stalled ? 'stalled' : 'failed';
    attempts.push({ tcg: attempt.tcg, outcome, status, seconds: Math.round((Date.now() - started) / 1000) });
    if (outcome === 'ok') return { ok: true, attempts };
    log(outcome === 'stalled' ? `no output from the guest for ${stallSeconds} s: stopped it (a stuck guest)` : `the lab run failed (status ${status})`);
  }
  return { ok: false, attempts };
}

/**
 * What happened, where the results are: the attempts added to the results file the guest wrote, or,
 * if no attempt finished, written to FILE-failed.json (a re-run is needed, and this says why).
 */
export function recordAttempts(resultsFile, run, indent = 1) {
  if (run.ok) writeFileSync(resultsFile, `${JSON.stringify({ ...JSON.parse(readFileSync(resultsFile, 'utf8')), attempts: run.attempts }, null, indent)}\n`);
  else writeFileSync(resultsFile.replace(/\.json$/, '-failed.json'), `${JSON.stringify({ date: new Date().toISOString(), ok: false, attempts: run.attempts }, null, indent)}\n`);
  log(`lab attempts: ${run.attempts.map((a) => `--tcg ${a.tcg} ${a.outcome} after ${a.seconds} s`).join('; ')}`);
}

function once(repo, args, stallSeconds) {
  return new Promise((resolve) => {
    // its own process group: QEMU and everything under the lab go when it is stopped
    const lab = spawn(join(repo, 'bin/exitscope.js'), args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let last = Date.now();
    let stalled = false;
    const forward = (to) => (chunk) => {
      last = Date.now();
      to.write(chunk);
    };
    lab.stdout.on('data', forward(process.stdout));
    lab.stderr.on('data', forward(process.stderr));
    const watch = setInterval(() => {
      if (stalled || Date.now() - last < stallSeconds * 1000) return;
      stalled = true;
      // SIGTERM first: the lab stops its QEMU and cleans up; the group is killed if it does not
      lab.kill('SIGTERM');
      setTimeout(() => {
        try {
          process.kill(-lab.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 20_000).unref();
    }, 1000);
    lab.on('close', (code, signal) => {
      clearInterval(watch);
      resolve({ status: code ?? signal, stalled });
    });
  });
}

/**
 * The usual host half of a lab benchmark: the same script with the same arguments run in the lab
 * (one TCG thread, tried twice), its attempts recorded into `out` (recordAttempts), then exit with
 * its outcome. The guest half writes `out` itself: the checkout is writable there.
 */
export async function rerunInLab({ repo, script, args, out, timeoutSeconds }) {
  const run = await runInLab({ repo, plan: [{ tcg: 'single' }, { tcg: 'single' }], timeoutSeconds, stallSeconds: 240, command: () => `node ${script} ${args.join(' ')}` });
  recordAttempts(out, run);
  process.exit(run.ok ? 0 : 1);
}
