/**
 * A flame snapshot in memory: stacks root first, each frame with its kind, and
 * how many samples ended in it. Every output (folded text, SVG, HTML, the
 * terminal summary) is a view of this one model.
 *
 * Frame order, root first: optional context frames in brackets ([exit NPF] or
 * [guest mode], then [vm NAME], then [THREAD]), the user stack outermost first,
 * then the kernel stack outermost first.
 */
import { UNSAFE_TEXT_CHARS } from '../views/safe-text.js';

export type FrameKind = 'context' | 'user' | 'kernel' | 'kvm';

export interface Frame {
  name: string;
  kind: FrameKind;
}

export interface Stack {
  frames: Frame[];
  count: number;
}

export interface FlameMeta {
  host: string;
  kernel: string;
  startedAt: string;
  seconds: number;
  hz: number;
  /** What was sampled, for titles: "all VMs" or "VM ci-3 (pid 1234)". */
  scope: string;
}

export interface FlameProfile {
  meta: FlameMeta;
  stacks: Stack[];
  /** Sum of stack counts. */
  samples: number;
}

/** Symbol owners counted as KVM when /proc/kallsyms names no module (e.g. reading a folded file elsewhere). */
export const KVM_FRAME_PATTERNS: readonly { pattern: RegExp; why: string }[] = [
  { pattern: /^(__)?kvm_/, why: 'KVM core (kvm.ko, arch/x86/kvm)' },
  { pattern: /^(__)?(svm|sev|avic)_/, why: 'AMD SVM (kvm_amd.ko)' },
  { pattern: /^(__)?(vmx|ept|nested_vmx)_/, why: 'Intel VMX (kvm_intel.ko)' },
  { pattern: /^(direct|nonpaging|paging32|paging64|paging32E|tdp|ept)_page_fault$/, why: 'KVM MMU fault handlers' },
  { pattern: /^(tdp_mmu|kvm_mmu|mmu|shadow|fast_page_fault|direct_map|__direct_map|FNAME)/, why: 'KVM MMU' },
  { pattern: /^[a-z_]+_interception$/, why: 'SVM exit handlers (io_interception, npf_interception, ...)' },
  { pattern: /^(handle_ept_violation|handle_io|handle_exit|complete_fast_pio|emulator_|x86_emulate|x86_decode|vcpu_enter_guest|vcpu_run)/, why: 'exit handling and the emulator' },
];

/** A kernel frame belongs to KVM when kallsyms says so, or (without kallsyms) when its name matches a KVM pattern. */
export function isKvmSymbol(name: string, kvmSymbols?: ReadonlySet<string>): boolean {
  if (kvmSymbols && kvmSymbols.size > 0) return kvmSymbols.has(name);
  return KVM_FRAME_PATTERNS.some((p) => p.pattern.test(name));
}

/** Kernel symbols that live in KVM's modules, from /proc/kallsyms text ("addr t name [module]"). */
export function kvmSymbolsFromKallsyms(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\S+ \S (\S+)\t\[(kvm|kvm_amd|kvm_intel)\]/.exec(line);
    if (m?.[1]) out.add(m[1]);
  }
  return out;
}

/**
 * A frame name safe in every view: thread names are set by any process and symbols come from
 * binaries, so control and bidi characters (the one list in src/views/safe-text.ts: escape codes
 * on a terminal, text that reads reversed) and characters XML forbids even escaped become '?'
 * ('?' and not the terminal views' spelled-out escapes: the name is also a folded-file key).
 */
const UNCLEAN = new RegExp(`[${UNSAFE_TEXT_CHARS}\\ufffe\\uffff]`, 'gu');
export function cleanName(name: string): string {
  return name.replace(UNCLEAN, '?');
}

/** Merges equal stacks and sorts them (by frame names) so that every view is stable. */
export function normalizeStacks(stacks: readonly Stack[]): Stack[] {
  const merged = new Map<string, Stack>();
  for (const s of stacks) {
    if (s.count <= 0) continue;
    const frames = s.frames.map((f) => ({ name: cleanName(f.name), kind: f.kind }));
    const key = frames.map((f) => `${f.kind}:${f.name}`).join('\n');
    const have = merged.get(key);
    if (have) have.count += s.count;
    else merged.set(key, { frames, count: s.count });
  }
  // in the order of the folded lines (as stackcollapse writes them), kinds breaking ties
  const order = (s: Stack): string => s.frames.map((f) => f.name).join(';');
  return [...merged.entries()]
    .map(([key, s]) => ({ key, s, by: order(s) }))
    .sort((a, b) => (a.by < b.by ? -1 : a.by > b.by ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((x) => x.s);
}

export function makeProfile(meta: FlameMeta, stacks: readonly Stack[]): FlameProfile {
  const norm = normalizeStacks(stacks);
  return { meta, stacks: norm, samples: norm.reduce((n, s) => n + s.count, 0) };
}
