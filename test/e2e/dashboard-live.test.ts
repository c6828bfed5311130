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
  it('shows live exits, pauses, selects the VM and quits cleanly', { timeout: 1_000_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), 'exitscope-dash-'));
    execFileSync('bash', [join(REPO, 'scripts/capture-dashboard.sh'), out], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'], timeout: 980_000 });
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
    const files = readdirSync(out).filter((f) => /^exitscope-flame-\d{8}-\d{6}\.(folded|svg|html)$/.test(f));
    expect(files.map((f) => f.split('.').pop()).sort()).toEqual(['folded', 'html', 'svg']);
    const folded = readFileSync(join(out, files.find((f) => f.endsWith('.folded')) as string), 'utf8');
    expect(folded).toMatch(/^\[exit \w+\];\[vm exitscope-workload \(pid \d+\)\];\[CPU \d\/KVM\];/m);
    // the vCPU threads were sampled inside KVM_RUN
    expect(folded).toMatch(/;kvm_arch_vcpu_ioctl_run_\[k\]/);
    // The panel's frames and shares are the file's: which frames rank first among near-equal
    // ones (syscall entry vs KVM_RUN) depends on where the samples fell, so the check is that
    // every frame shown has the share the file gives it, and none the file ranks higher is missing.
    const shown = panelFrames(flame);
    expect(shown.total.length).toBeGreaterThanOrEqual(3);
    const file = sharesOf(folded);
    for (const [list, shares] of [[shown.total, file.total], [shown.self, file.self]] as const) {
      for (const f of list) if (!f.cut) expect(Math.abs((shares.get(f.name) ?? -1) - f.share), f.name).toBeLessThanOrEqual(0.051);
      const lowest = Math.min(...list.map((f) => f.share));
      const isShown = (name: string): boolean => list.some((f) => (f.cut ? name.startsWith(f.name) : f.name === name));
      const outranking = [...shares].filter(([name, share]) => share > lowest + 0.051 && !isShown(name));
      expect(outranking).toEqual([]);
    }

    const quit = screen('quit');
    expect(quit).toContain('exitscope-exit=0');
    // the recording was flushed on q: it ends with the final totals
    const { messages, problems } = parseRecording(readFileSync(join(out, 'top.jsonl'), 'utf8'));
    expect(problems).toEqual([]);
    expect(messages.at(-1)).toMatchObject({ type: 'end', complete: true });
  });
});

interface Shown {
  name: string;
  share: number;
  /** The name was cut to the column's width (it ended with '…'): `name` is its start. */
  cut: boolean;
}

/** The flame panel's rows: "  12.3% name [kvm]   4.5% other [k]" (total column, then self). */
function panelFrames(screenText: string): { total: Shown[]; self: Shown[] } {
  const lines = screenText.split('\n');
  const start = lines.findIndex((l) => /top total +top self/.test(l));
  const total: Shown[] = [];
  const self: Shown[] = [];
  for (const line of lines.slice(start + 1)) {
    const cells = [...line.matchAll(/(\d+\.\d)% (\S+?)( \[kvm\]| \[k\])?(?= |│|$)/g)];
    if (cells.length === 0) break;
    const keep = (c: RegExpMatchArray | undefined, to: Shown[]): void => {
      if (!c) return;
      const name = c[2] as string;
      to.push(name.endsWith('…') ? { name: name.slice(0, -1), share: Number(c[1]), cut: true } : { name, share: Number(c[1]), cut: false });
    };
    keep(cells[0], total);
    keep(cells[1], self);
  }
  return { total, self };
}

/** Percent of samples with each frame on the stack (once per sample) and as the leaf, from the folded file. */
function sharesOf(folded: string): { total: Map<string, number>; self: Map<string, number> } {
  const total = new Map<string, number>();
  const self = new Map<string, number>();
  let samples = 0;
  for (const line of folded.split('\n')) {
    const sp = line.lastIndexOf(' ');
    if (sp < 0) continue;
    const n = Number(line.slice(sp + 1));
    samples += n;
    // context frames ([exit ..], [vm ..], [CPU ..]) lead the stack and are not ranked
    const frames = line.slice(0, sp).split(';').map((f) => f.replace(/_\[k\]$/, ''));
    let first = 0;
    while (first < frames.length && /^\[.*\]$/.test(frames[first] as string) && frames[first] !== '[unknown]') first++;
    const real = frames.slice(first);
    for (const f of new Set(real)) total.set(f, (total.get(f) ?? 0) + n);
    const leaf = real.at(-1);
    if (leaf !== undefined) self.set(leaf, (self.get(leaf) ?? 0) + n);
  }
  const pct = (m: Map<string, number>): Map<string, number> => new Map([...m].map(([k, v]) => [k, Math.round((v / samples) * 1000) / 10]));
  return { total: pct(total), self: pct(self) };
}
