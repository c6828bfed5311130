/**
 * exitscope as a user installs it: `npm pack` (prepack builds), `npm install -g` into a fresh
 * prefix, then the installed commands from a directory outside the checkout with the prefix's
 * bin/ first on PATH, the lab included: its guest runs the installed exitscope and workload, and
 * `exitscope run` there counts the workload's IOIO exits exactly.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTally } from '../../src/lab/workload.js';
import { REPO } from './lab-harness.js';

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

/** The environment without npm's own variables (vitest may run under npm/npx): nested npm reads only its defaults. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))), ...extra };
}

function npm(args: string[], cwd: string): void {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, env: cleanEnv(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
}

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

let root: string;
let prefix: string;
let work: string;
let env: NodeJS.ProcessEnv;

/** An installed command, found through PATH (the prefix's bin/ first), run from the work directory. */
function installed(cmd: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'exitscope-package-'));
  const packs = join(root, 'packs');
  mkdirSync(packs);
  npm(['pack', '--pack-destination', packs], REPO);
  const tarballs = readdirSync(packs).filter((f) => /^exitscope-.*\.tgz$/.test(f));
  expect(tarballs).toEqual([`exitscope-${VERSION}.tgz`]);

  prefix = join(root, 'prefix');
  npm(['install', '-g', '--prefix', prefix, '--prefer-offline', join(packs, tarballs[0] ?? '')], root);

  work = join(root, 'work');
  mkdirSync(work);
  env = cleanEnv({ PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}` });
}, 170_000);

// The prefix holds ~35 MB of dependencies: not left behind in /tmp after every run.
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the installed package', { timeout: 150_000 }, () => {
  it('is a copy in the prefix, not a link to the checkout, and runs outside it', async () => {
    expect(work.startsWith(`${REPO}/`)).toBe(false);
    const pkgDir = join(prefix, 'lib', 'node_modules', 'exitscope');
    expect(realpathSync(join(prefix, 'bin', 'exitscope'))).toBe(join(pkgDir, 'bin', 'exitscope.js'));
    expect(realpathSync(join(prefix, 'bin', 'exitscope-workload'))).toBe(join(pkgDir, 'build', 'exitscope-workload'));
    expect(readdirSync(pkgDir).sort()).toEqual(['LICENSE', 'README.md', 'bin', 'build', 'dist', 'node_modules', 'package.json', 'probes']);

    const v = await installed('exitscope', ['--version']);
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toBe(VERSION);

    // The workload without arguments: its usage, from the shipped binary.
    const w = await installed('exitscope-workload', []);
    expect(w.status).toBe(2);
    expect(w.stderr).toContain('usage: exitscope-workload SCENARIO N');

    // A self-contained page from a recording: the shipped web bundle inlined.
    const r = await installed('exitscope', ['report', join(REPO, 'test/fixtures/recordings/run-npf-1031-npt-on.jsonl'), '-f', 'html', '-o', 'report.html']);
    expect(r.status, r.stderr).toBe(0);
    const bundle = readFileSync(join(pkgDir, 'dist', 'bundles', 'live-page.js'), 'utf8');
    expect(readFileSync(join(work, 'report.html'), 'utf8')).toContain(bundle.slice(0, 2000));
  });

  it("runs the lab: in the guest, the installed exitscope runs the installed workload and counts IOIO 1009 exactly", async () => {
    const command = [
      // What the guest's PATH gives for each name, kept for the host to read.
      'cat "$(command -v exitscope)" > guest-exitscope.sh',
      'cat "$(command -v exitscope-workload)" > guest-workload.sh',
      'exitscope doctor > doctor.txt 2>&1; echo $? > doctor.status',
      'exitscope run -f json --report-file report.json -- exitscope-workload io 1009',
    ].join('; ');
    const r = await installed('exitscope', ['lab', '--run', command]);
    expect(r.status, r.stderr).toBe(0);

    const pkgDir = join(prefix, 'lib', 'node_modules', 'exitscope');
    expect(readFileSync(join(work, 'guest-exitscope.sh'), 'utf8')).toContain(`'${join(pkgDir, 'bin', 'exitscope.js')}'`);
    expect(readFileSync(join(work, 'guest-workload.sh'), 'utf8')).toContain(`'${join(pkgDir, 'build', 'exitscope-workload')}'`);
    expect(readFileSync(join(work, 'doctor.status'), 'utf8').trim(), readFileSync(join(work, 'doctor.txt'), 'utf8')).toBe('0');

    // The workload's own tally (its stdout, through exitscope run) and exitscope's report agree.
    const tally = parseTally(r.stdout);
    expect(tally.expected.find((e) => e.name === 'IOIO')?.count).toBe(1009);
    const report = JSON.parse(readFileSync(join(work, 'report.json'), 'utf8')) as {
      complete: boolean;
      exits: { isaName: string; name: string; count: number }[];
    };
    expect(report.complete).toBe(true);
    expect(report.exits.filter((e) => e.name === 'IOIO')).toEqual([expect.objectContaining({ isaName: 'svm', count: 1009 })]);
  });
});
