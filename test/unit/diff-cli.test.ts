/**
 * diff, baseline update and the gate's option checks through the real CLI as a process: the
 * status, what stdout and stderr say. The gate's checks come before anything is traced, so they
 * are seen here without root or KVM (the gate after a traced run is in test/e2e/diff-gate-lab).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleScript, removeBundle } from './support/bundle-script.js';

const REC = join(import.meta.dirname, '../fixtures/recordings');
const ON = join(REC, 'run-npf-1031-npt-on.jsonl');
const OFF = join(REC, 'run-npf-1031-npt-off.jsonl');
let cli: string;
let dir: string;
beforeAll(async () => {
  cli = await bundleScript(join(import.meta.dirname, 'support/cli-main.ts'));
  dir = mkdtempSync(join(tmpdir(), 'diff-cli-'));
}, 60_000);
afterAll(() => {
  removeBundle(cli);
  if (dir) rmSync(dir, { recursive: true, force: true });
});
const exitscope = (...args: string[]) => {
  const r = spawnSync('node', [cli, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('exitscope diff', () => {
  it('two recordings: status 0, the shift and the hint', () => {
    const r = exitscope('diff', ON, OFF);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^EXCP_PF\s+svm 78\s+0\s+1031\s+\+1031 \(new\)/m);
    expect(r.stdout).toContain('WARNING: Nested paging is on in BASE and off in NEW');
  });
  it('-f markdown and -f json --by vm', () => {
    expect(exitscope('diff', ON, OFF, '-f', 'markdown').stdout).toContain('| exit reason | base | new | change |');
    const j = JSON.parse(exitscope('diff', ON, OFF, '-f', 'json', '--by', 'vm').stdout) as { vms: unknown[]; version: number };
    expect(j.version).toBe(1);
    expect(j.vms).toHaveLength(1);
  });
  it('a file that is neither: error [NOT_A_REPORT] and a fix, status 2', () => {
    const r = exitscope('diff', ON, join(import.meta.dirname, '../../package.json'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^exitscope: error \[NOT_A_REPORT\]: .*package\.json is neither a recording nor a report/m);
    expect(r.stderr).toMatch(/^ {2}fix: /m);
  });
  it('--by takes vm only; -f takes the diff formats', () => {
    expect(exitscope('diff', ON, OFF, '--by', 'reason').status).toBe(2);
    expect(exitscope('diff', ON, OFF, '-f', 'csv').status).toBe(2);
  });
});

describe('exitscope baseline update', () => {
  it('writes the report -f json of the recording', () => {
    const out = join(dir, 'baseline.json');
    const r = exitscope('baseline', 'update', '--from', ON, '-o', out);
    expect(r.status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(exitscope('report', ON, '-f', 'json').stdout);
    // and the baseline diffs like the recording
    expect(JSON.parse(exitscope('diff', out, OFF, '-f', 'json').stdout).exits).toEqual(JSON.parse(exitscope('diff', ON, OFF, '-f', 'json').stdout).exits);
  });
  it('a file that cannot be written: error [GATE_WRITE], status 2', () => {
    const r = exitscope('baseline', 'update', '--from', ON, '-o', '/dev/full');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error \[GATE_WRITE\]: cannot write \/dev\/full: no space left/);
  });
});

describe('run --baseline/--fail-on: checked before anything is traced', () => {
  it.each([
    [['--fail-on', 'NPFX:>0'], 'BAD_FAIL_ON'],
    [['--fail-on', 'NPF:>0'], 'NO_BASELINE'],
    [['--junit', 'x.xml'], 'NO_BASELINE'],
    [['--baseline', join(import.meta.dirname, '../../package.json'), '--fail-on', 'NPF:>0'], 'NOT_A_REPORT'],
  ])('%j: error [%s], status 2', (args, code) => {
    const r = exitscope('run', '--no-output', ...args, '--', 'true');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`exitscope: error [${code}]`);
  });
  it('--help teaches the gate and its status', () => {
    const h = exitscope('run', '--help').stdout;
    expect(h).toContain('--fail-on <spec>');
    expect(h).toContain("3 when COMMAND succeeded and a --fail-on rule is broken");
  });
});
