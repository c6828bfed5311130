/**
 * `exitscope top` live, in a real terminal (tmux) inside the lab, against a
 * running workload: the dashboard shows the exits, p freezes it while
 * collection goes on, v selects the VM, f takes a flame snapshot (progress,
 * top frames, files), q quits, restores the terminal and
 * flushes the recording it was asked to write.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRecording } from '../../src/recording/recording.js';

const REPO = join(import.meta.dirname, '../..');
const body = (s: string): string => s.split('\n').slice(1).join('\n'); // the screen without the state line

describe('exitscope top in tmux, in the lab, against the mix workload', () => {
  it('shows live exits, pauses, selects the VM and quits cleanly', { timeout: 600_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), 'exitscope-dash-'));
    execFileSync('bash', [join(REPO, 'scripts/capture-dashboard.sh'), out], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'], timeout: 580_000 });
    const screen = (name: string): string => readFileSync(join(out, `${name}.txt`), 'utf8');

    const live = screen('live');
    expect(live).toContain('● LIVE');
    expect(live).toMatch(/^(IOIO|CPUID|NPF|MSR|HLT) +\S+/m);
    expect(live).toMatch(/exitscope-workload \(\d+\)/);
    expect(live).toMatch(/collector \d+\.\d% CPU \d+ MiB/);

    expect(screen('paused')).toContain('PAUSED');
    // frozen: the workload goes on, the screen does not
    expect(body(screen('paused-later'))).toBe(body(screen('paused')));
    expect(screen('resumed')).toContain('● LIVE');

    expect(screen('vm')).toMatch(/VM exitscope-workload \(pid \d+\)/);

    // f: a flame snapshot of the vCPU threads, with progress, then its top frames and files
    expect(screen('flame-progress')).toMatch(/flame snapshot .*(attaching probes|sampling \d+\.\d\/5 s|resolving symbols)/);
    const flame = screen('flame');
    expect(flame).toMatch(/top total +top self/);
    expect(flame).toMatch(/\d+\.\d% kvm_arch_vcpu_ioctl_run \[kvm\]/);
    const files = readdirSync(out).filter((f) => /^exitscope-flame-\d{8}-\d{6}\.(folded|svg|html)$/.test(f));
    expect(files.map((f) => f.split('.').pop()).sort()).toEqual(['folded', 'html', 'svg']);
    const folded = readFileSync(join(out, files.find((f) => f.endsWith('.folded')) as string), 'utf8');
    expect(folded).toMatch(/^\[exit \w+\];\[vm exitscope-workload \(pid \d+\)\];\[CPU \d\/KVM\];/m);

    const quit = screen('quit');
    expect(quit).toContain('exitscope-exit=0');
    // the recording was flushed on q: it ends with the final totals
    const { messages, problems } = parseRecording(readFileSync(join(out, 'top.jsonl'), 'utf8'));
    expect(problems).toEqual([]);
    expect(messages.at(-1)).toMatchObject({ type: 'end', complete: true });
  });
});
