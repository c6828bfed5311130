/**
 * The folded-stack format of FlameGraph (stackcollapse-*), inferno and
 * speedscope: one line per distinct stack, frames root first joined by ';',
 * then a space and the sample count. Kernel frames carry the usual `_[k]`
 * suffix (KVM's are kernel frames too). Context frames are in brackets.
 */
import { type FlameProfile, type Frame, type Stack, isKvmSymbol } from './profile.js';

const KERNEL_SUFFIX = '_[k]';

/** A frame name safe inside a folded line: no ';' (the separator) and no line breaks. */
export function foldedName(f: Frame): string {
  const name = f.name.replace(/;/g, ':').replace(/[\r\n]+/g, ' ');
  return f.kind === 'kernel' || f.kind === 'kvm' ? `${name}${KERNEL_SUFFIX}` : name;
}

export function toFolded(p: FlameProfile): string {
  return p.stacks.map((s) => `${s.frames.map(foldedName).join(';')} ${s.count}\n`).join('');
}

export class FoldedParseError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'FoldedParseError';
  }
}

/**
 * Reads folded text back into stacks. Kinds: leading bracketed frames are context
 * (but not [unknown]), `_[k]` frames are kernel (KVM by `kvmSymbols` or by name),
 * the rest user. Blank lines and '#' comments are skipped.
 */
export function parseFolded(text: string, kvmSymbols?: ReadonlySet<string>): Stack[] {
  const stacks: Stack[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) return;
    const sp = line.lastIndexOf(' ');
    const countText = sp < 0 ? '' : line.slice(sp + 1);
    if (!/^\d+$/.test(countText)) throw new FoldedParseError(i + 1, `expected "frame;frame COUNT", got ${JSON.stringify(line.slice(0, 80))}`);
    const names = line.slice(0, sp).split(';');
    let inContext = true;
    const frames: Frame[] = names.map((n) => {
      if (inContext && n.startsWith('[') && n.endsWith(']') && n !== '[unknown]') return { name: n, kind: 'context' };
      inContext = false;
      if (n.endsWith(KERNEL_SUFFIX)) {
        const name = n.slice(0, -KERNEL_SUFFIX.length);
        return { name, kind: isKvmSymbol(name, kvmSymbols) ? 'kvm' : 'kernel' };
      }
      return { name: n, kind: 'user' };
    });
    stacks.push({ frames, count: Number(countText) });
  });
  return stacks;
}
