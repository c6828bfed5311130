/**
 * The text view of a flame snapshot, for a terminal: where the samples went
 * by exit state, and the top frames by self time (the leaf) and by total time
 * (anywhere on the stack). Context frames are left out of the frame lists:
 * they say what was running, not where the time went.
 */
import { safeStrings } from '../views/safe-text.js';
import type { FlameProfile, FrameKind } from './profile.js';

export interface FrameShare {
  name: string;
  kind: FrameKind;
  samples: number;
  share: number;
}

export interface FlameSummary {
  samples: number;
  /** Samples by the root context frame ([exit NPF], [guest mode], ...), largest first. */
  byState: FrameShare[];
  topSelf: FrameShare[];
  topTotal: FrameShare[];
}

function ranked(counts: Map<string, { kind: FrameKind; samples: number }>, total: number, n: number): FrameShare[] {
  return [...counts.entries()]
    .map(([name, v]) => ({ name, kind: v.kind, samples: v.samples, share: total ? v.samples / total : 0 }))
    .sort((a, b) => b.samples - a.samples || (a.name < b.name ? -1 : 1))
    .slice(0, n);
}

export function summarize(p: FlameProfile, n = 10): FlameSummary {
  const self = new Map<string, { kind: FrameKind; samples: number }>();
  const total = new Map<string, { kind: FrameKind; samples: number }>();
  const state = new Map<string, { kind: FrameKind; samples: number }>();
  const add = (m: typeof self, name: string, kind: FrameKind, c: number): void => {
    const have = m.get(name);
    if (have) have.samples += c;
    else m.set(name, { kind, samples: c });
  };
  for (const s of p.stacks) {
    const root = s.frames[0];
    if (root?.kind === 'context' && /^\[(exit |guest mode)/.test(root.name)) add(state, root.name, 'context', s.count);
    const real = s.frames.filter((f) => f.kind !== 'context');
    const leaf = real[real.length - 1];
    if (leaf) add(self, leaf.name, leaf.kind, s.count);
    // a recursive frame counts once per sample
    const seen = new Set<string>();
    for (const f of real) {
      if (seen.has(f.name)) continue;
      seen.add(f.name);
      add(total, f.name, f.kind, s.count);
    }
  }
  return { samples: p.samples, byState: ranked(state, p.samples, 8), topSelf: ranked(self, p.samples, n), topTotal: ranked(total, p.samples, n) };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1).padStart(5)}%`;
}

/** How a frame's kind is marked after its name in the terminal views. */
export const KIND_TAG: Record<FrameKind, string> = { context: '', user: '', kernel: ' [k]', kvm: ' [kvm]' };

export function formatSummary(p: FlameProfile, n = 10): string {
  // frame names were cleaned when the profile was made (cleanName); the scope can name a VM and
  // a profile may come from elsewhere: everything printed is neutralised here too
  const s = safeStrings(summarize(p, n));
  const meta = safeStrings(p.meta);
  const out: string[] = [];
  out.push(`flame: ${s.samples} samples at ${meta.hz} Hz over ${meta.seconds} s, ${meta.scope}, on ${meta.host} (${meta.kernel})`);
  if (s.byState.length) out.push(`by exit state: ${s.byState.map((x) => `${x.name.slice(1, -1)} ${(x.share * 100).toFixed(1)}%`).join(', ')}`);
  out.push('', 'top total (on the stack):');
  for (const f of s.topTotal) out.push(`  ${pct(f.share)}  ${f.name}${KIND_TAG[f.kind]}`);
  out.push('', 'top self (where the CPU was):');
  for (const f of s.topSelf) out.push(`  ${pct(f.share)}  ${f.name}${KIND_TAG[f.kind]}`);
  return `${out.join('\n')}\n`;
}
