/**
 * Damaged recordings through the CLI: a recording cut off mid-line (the
 * recorder was killed) or with a corrupt line is reported with the line
 * number, and the readable part still replays and reports.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '../..');
const SOURCE = join(REPO, 'test/fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl');
const exitscope = (...args: string[]) => execa('node', [join(REPO, 'bin/exitscope.js'), ...args], { reject: false, env: { NO_COLOR: '1' } });

/** Sum of exit counts in the snapshot lines that are whole JSON (read here independently of the code under test). */
function exitsIn(lines: string[]): number {
  let total = 0;
  for (const l of lines) {
    try {
      const m = JSON.parse(l) as { type: string; exits?: { n: number }[] };
      if (m.type === 'snapshot') total += (m.exits ?? []).reduce((a, e) => a + e.n, 0);
    } catch {
      // unreadable: not counted
    }
  }
  return total;
}

describe('damaged recordings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'exitscope-rec-'));
  const lines = readFileSync(SOURCE, 'utf8').trimEnd().split('\n');
  // line 4 corrupted, the final snapshot (line 5) cut in the middle, no end line
  const damaged = [...lines.slice(0, 3), '{"type":"snapshot","seq":1,"t":garbage', lines[4]!.slice(0, Math.floor(lines[4]!.length / 2))];
  const file = join(dir, 'damaged.jsonl');
  writeFileSync(file, damaged.join('\n'));

  it('report: names each bad line and reports the rest', async () => {
    const r = await exitscope('report', file, '--format', 'json');
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(`${file}:4: not JSON`);
    expect(r.stderr).toContain(`${file}:5: truncated`);
    const report = JSON.parse(r.stdout) as { totalExits: number; complete: boolean };
    expect(report.totalExits).toBe(exitsIn(damaged));
    expect(report.totalExits).toBeGreaterThan(0);
    expect(report.complete).toBe(false);
  });

  it('replay: shows every readable interval and says the recording was cut off', async () => {
    const r = await exitscope('replay', file);
    expect(r.exitCode).toBe(0);
    const readableSnapshots = damaged.filter((l) => l.startsWith('{"type":"snapshot"') && l.endsWith('}')).length;
    expect(r.stdout.match(/^--- t=/gm)).toHaveLength(readableSnapshots);
    expect(r.stderr).toMatch(/no end message/);
    expect(r.stderr).toContain(`${file}:5: truncated`);
  });

  it('a file that is not a recording: one clear error', async () => {
    const r = await exitscope('report', join(REPO, 'package.json'));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/error \[RECORDING_INVALID\]: .*package\.json is not an exitscope recording/);
    expect(r.stderr).toMatch(/fix: /);
  });

  it('a missing file: one clear error', async () => {
    const r = await exitscope('replay', join(dir, 'nope.jsonl'));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/error \[RECORDING_READ\]/);
  });
});
