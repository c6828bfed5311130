/**
 * The lab's guest commands: sh scripts that run this copy of exitscope and its workload from
 * wherever it lives. Run here on the host with sh, as the guest runs them (same paths).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guestCommands, ownTargets, writeGuestCommands } from '../../src/lab/guest-commands.js';
import { repoRoot } from '../../src/lab/paths.js';

const REPO = repoRoot();
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

function run(file: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(file, args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('guest commands', () => {
  it('are exitscope and exitscope-workload, written executable', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'guest-bin-')), 'bin');
    writeGuestCommands(dir, guestCommands(ownTargets(REPO)));
    for (const name of ['exitscope', 'exitscope-workload']) expect(statSync(join(dir, name)).mode & 0o777).toBe(0o755);
  });

  it('run this copy of exitscope with this node, from a directory whose name holds a quote and a space', () => {
    // A copy of the package's entry points under a hostile path: the script must quote it.
    const root = join(mkdtempSync(join(tmpdir(), 'guest-bin-')), "it's a dir");
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync(join(REPO, 'bin', 'exitscope.js'), join(root, 'bin', 'exitscope.js'));
    const dir = join(root, 'guest-bin');
    // The copy has no dist/: its own entry point says so, which proves the script ran that copy, not the checkout.
    writeGuestCommands(dir, guestCommands({ ...ownTargets(root), node: process.execPath }));
    const r = run(join(dir, 'exitscope'), ['--version']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`installed package has no dist/ (${root}/)`);
  });

  it('pass arguments through unchanged (the checkout: --version is the package version)', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'guest-bin-')), 'bin');
    writeGuestCommands(dir, guestCommands(ownTargets(REPO)));
    const r = run(join(dir, 'exitscope'), ['--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('exec the workload with its arguments, and say how to build it when it is missing', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'guest-bin-')), 'bin');
    // /bin/echo stands in for the workload: the arguments must arrive as they were given.
    writeGuestCommands(dir, guestCommands({ node: process.execPath, cli: '/nonexistent', workload: '/bin/echo' }));
    expect(run(join(dir, 'exitscope-workload'), ['io', '1009', 'a b']).stdout).toBe('io 1009 a b\n');

    const missing = join(dir, 'no-such-workload');
    writeGuestCommands(dir, guestCommands({ node: process.execPath, cli: '/nonexistent', workload: missing }));
    const r = run(join(dir, 'exitscope-workload'), ['io', '1']);
    expect(r.status).toBe(127);
    expect(r.stderr).toContain(`${missing} is missing`);
    expect(r.stderr).toContain('npm run build');
  });
});
