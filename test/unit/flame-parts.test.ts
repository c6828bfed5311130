import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { frameOf, parseStackKey, parseStacksOutput, symbolOf } from '../../src/flame/bpftrace-stacks.js';
import { stateFrame, toStacks } from '../../src/flame/capture.js';
import { FoldedParseError, parseFolded, toFolded } from '../../src/flame/folded.js';
import { checkWritable, defaultFlameBase, outputPaths, writeAllAtomic, writeFlameFiles } from '../../src/flame/outputs.js';
import { type FlameProfile, KVM_FRAME_PATTERNS, isKvmSymbol, kvmSymbolsFromKallsyms, makeProfile } from '../../src/flame/profile.js';
import { buildFlameProgram, IN_GUEST } from '../../src/flame/program.js';
import { summarize } from '../../src/flame/summary.js';
import { escapeXml, renderSvg } from '../../src/flame/svg.js';
import { buildTree } from '../../src/flame/tree.js';
import { UserError } from '../../src/errors.js';

const META = { host: 'h', kernel: '6.1.0', startedAt: '2026-11-25T00:00:00.000Z', seconds: 1, hz: 99, scope: 'all VMs' };

function profileOf(folded: string): FlameProfile {
  return makeProfile(META, parseFolded(folded));
}

describe('buildFlameProgram', () => {
  it('samples only threads with exit state, keyed by state, pid, stacks and comm (last), and exits after the duration', () => {
    const t = buildFlameProgram({ hz: 99, durationMs: 3000, reasons: true, userStacks: true });
    expect(t).toContain('profile:hz:99 /@flame_start != 0 && @state[tid]/');
    expect(t).toContain('@stacks[@state[tid], pid, kstack(perf), ustack(perf), comm] = count();');
    expect(t).toContain('tracepoint:kvm:kvm_entry /@state[tid]/');
    // it ends itself 3 s after BEGIN (not by our SIGINT, which bpftrace 0.17 can miss), and END prints once
    expect(t).toContain('BEGIN { @flame_start = nsecs;');
    expect(t).toMatch(/interval:ms:50 \/@flame_start != 0 && nsecs - @flame_start >= 3000000000\/\n\{\n {2}exit\(\);\n\}/);
    expect(t).toMatch(/END\n\{\n {2}print\(@stacks\);[\s\S]*clear\(@stacks\);/);
    expect(t).not.toContain('pid ==');
  });

  it('without reasons or user stacks: no kvm_entry probe, every sample IN_GUEST, no ustack', () => {
    const t = buildFlameProgram({ hz: 49, durationMs: 3000, reasons: false, userStacks: false, pids: [12, 34] });
    expect(t).not.toContain('kvm_entry');
    expect(t).not.toContain('ustack');
    expect(t).toContain(`@state[tid] = ${IN_GUEST};`);
    expect(t).toContain('tracepoint:kvm:kvm_exit /pid == 12 || pid == 34/');
  });

  it('refuses out-of-range numbers instead of pasting them', () => {
    expect(() => buildFlameProgram({ hz: 0, durationMs: 3000, reasons: true, userStacks: true })).toThrow(RangeError);
    expect(() => buildFlameProgram({ hz: 10_001, durationMs: 3000, reasons: true, userStacks: true })).toThrow(RangeError);
    expect(() => buildFlameProgram({ hz: 99, durationMs: 3000, pids: [1.5], reasons: true, userStacks: true })).toThrow(RangeError);
    expect(() => buildFlameProgram({ hz: 99, durationMs: 0.5, reasons: true, userStacks: true })).toThrow(RangeError);
    expect(() => buildFlameProgram({ hz: 99, durationMs: 3_600_001, reasons: true, userStacks: true })).toThrow(RangeError);
    expect(() => buildFlameProgram({ hz: 99, durationMs: 3000, pids: [Number('1; system("x")')], reasons: true, userStacks: true })).toThrow(RangeError);
  });
});

describe('stack keys', () => {
  it.each([
    ['kvm_mmu_page_fault+130', 'kvm_mmu_page_fault'],
    ['  svm_vcpu_run+0x1f', 'svm_vcpu_run'],
    ['0x7f3a2b1c0d9e', '[unknown]'],
    ['7f3a2b1c0d9e', '[unknown]'],
    ['ioctl+11 (/usr/lib/x86_64-linux-gnu/libc.so.6)', 'ioctl'],
    ['main', 'main'],
    ['std::function<void ()>::operator()+12', 'std::function<void ()>::operator()'],
    ['run_batch+40 (/work/build/exitscope-workload)', 'run_batch'],
  ])('symbolOf(%j) = %j', (raw, want) => expect(symbolOf(raw)).toBe(want));

  it.each([
    ['\tffffffffc03c41ce kvm_vcpu_ioctl+606', { addr: 'ffffffffc03c41ce', symbol: 'kvm_vcpu_ioctl' }],
    ['\t7f2b9e4c7d6b ioctl+59 (/usr/lib/x86_64-linux-gnu/libc.so.6)', { addr: '7f2b9e4c7d6b', symbol: 'ioctl' }],
    ['\t7f2b9e4c7d6b 0x7f2b9e4c7d6b ([unknown])', { addr: '7f2b9e4c7d6b', symbol: '[unknown]' }],
    ['    ioctl+59', { symbol: 'ioctl' }],
  ])('frameOf(%j)', (line, want) => expect(frameOf(line)).toEqual(want));

  it('splits a key into state, pid, kernel stack, user stack and a comm that holds commas', () => {
    const key = '8589935616,4242,\n\tffffffffc041bd4c kvm_tdp_page_fault+5\n\tffffffffc041bfc3 kvm_mmu_page_fault+130\n,\n\t7f2b9e4c7d6b ioctl+59 (/lib/libc.so.6)\n\t55aa00001000 main+40 (/bin/w)\n,CPU 0/KVM, odd';
    const k = parseStackKey(key, true);
    expect(k?.state).toBe(8589935616n);
    expect(k?.pid).toBe(4242);
    expect(k?.kernel.map((f) => f.symbol)).toEqual(['kvm_tdp_page_fault', 'kvm_mmu_page_fault']);
    expect(k?.user.map((f) => f.symbol)).toEqual(['ioctl', 'main']);
    expect(k?.comm).toBe('CPU 0/KVM, odd');
  });

  it('empty stacks are empty lists; a key without the numeric head is rejected', () => {
    expect(parseStackKey('1,7,,,worker', true)).toEqual({ state: 1n, pid: 7, kernel: [], user: [], comm: 'worker' });
    expect(parseStackKey('1,7,\n\tffff0001 a+1\n,w', false)).toEqual({ state: 1n, pid: 7, kernel: [{ addr: 'ffff0001', symbol: 'a' }], user: [], comm: 'w' });
    expect(parseStackKey('x,7,', true)).toBeUndefined();
  });

  it('an address bpftrace left unsymbolised in one sample takes its name from another sample of the same process', () => {
    const map = {
      '1,5,\n\tffff0001 k+1\n,\n\t7f00aa ioctl+59 (/lib/libc.so.6)\n,t': 2,
      '1,5,\n\tffff0001 k+1\n,\n\t7f00aa 0x7f00aa ([unknown])\n,t': 3,
      '1,6,\n\tffff0001 k+1\n,\n\t7f00aa 0x7f00aa ([unknown])\n,t': 4,
    };
    const { samples, unparsed } = parseStacksOutput(['{"type": "printf", "data": "x"}', JSON.stringify({ type: 'map', data: { '@stacks': map } }), 'not json'], true);
    expect(unparsed).toBe(0);
    expect(samples.map((s) => [s.pid, s.user, s.count])).toEqual([[5, ['ioctl'], 2], [5, ['ioctl'], 3], [6, ['[unknown]'], 4]]);
  });

  it('names the exit state: guest mode, or the exit decoded with its own ISA table', () => {
    expect(stateFrame(BigInt(IN_GUEST))).toBe('[guest mode]');
    expect(stateFrame((2n << 32n) | 0x400n)).toBe('[exit NPF]');
    expect(stateFrame((2n << 32n) | 0x7bn)).toBe('[exit IOIO]');
    expect(stateFrame((1n << 32n) | 48n)).toBe('[exit EPT_VIOLATION]');
    expect(stateFrame((2n << 32n) | 0x12345n)).toMatch(/^\[exit UNKNOWN\(0x12345\)\]$/);
  });

  it('builds stacks root first: context, user outermost first, kernel outermost first, KVM frames by kallsyms', () => {
    const [s] = toStacks([{ state: (2n << 32n) | 0x400n, pid: 9, kernel: ['kvm_tdp_page_fault', 'do_syscall_64'], user: ['ioctl', 'main'], comm: 'CPU 1/KVM', count: 3 }], {
      reasons: true,
      vmName: (pid) => `vm${pid}`,
      kvmSymbols: new Set(['kvm_tdp_page_fault']),
    });
    expect(s?.frames).toEqual([
      { name: '[exit NPF]', kind: 'context' },
      { name: '[vm vm9]', kind: 'context' },
      { name: '[CPU 1/KVM]', kind: 'context' },
      { name: 'main', kind: 'user' },
      { name: 'ioctl', kind: 'user' },
      { name: 'do_syscall_64', kind: 'kernel' },
      { name: 'kvm_tdp_page_fault', kind: 'kvm' },
    ]);
    expect(s?.count).toBe(3);
  });
});

describe('KVM frames', () => {
  const examples: Record<string, string> = {
    'KVM core (kvm.ko, arch/x86/kvm)': 'kvm_arch_vcpu_ioctl_run',
    'AMD SVM (kvm_amd.ko)': 'svm_vcpu_run',
    'Intel VMX (kvm_intel.ko)': 'vmx_handle_exit',
    'KVM MMU fault handlers': 'paging64_page_fault',
    'KVM MMU': 'kvm_mmu_page_fault',
    'SVM exit handlers (io_interception, npf_interception, ...)': 'npf_interception',
    'exit handling and the emulator': 'x86_emulate_instruction',
  };
  it.each(KVM_FRAME_PATTERNS.map((p) => [p.why, p] as const))('pattern for %s matches its example', (why, p) => {
    expect(examples[why], `add an example for ${why}`).toBeDefined();
    expect(p.pattern.test(examples[why] as string)).toBe(true);
  });
  it.each(['do_syscall_64', 'entry_SYSCALL_64_after_hwframe', '__x64_sys_ioctl', 'handle_mm_fault', 'asm_exc_page_fault', 'schedule'])('%s is not KVM by name', (n) => {
    expect(isKvmSymbol(n)).toBe(false);
  });
  it('kallsyms, when read, decides alone', () => {
    const k = kvmSymbolsFromKallsyms('ffffffffc0a00000 t svm_vcpu_run\t[kvm_amd]\nffffffffc0900000 T direct_page_fault\t[kvm]\nffffffff81000000 T do_syscall_64\nffffffffc0800000 t foo\t[ext4]\n');
    expect([...k].sort()).toEqual(['direct_page_fault', 'svm_vcpu_run']);
    expect(isKvmSymbol('direct_page_fault', k)).toBe(true);
    expect(isKvmSymbol('kvm_not_in_module', k)).toBe(false);
  });
});

describe('folded', () => {
  const text = '[exit NPF];[vm a];[CPU 0/KVM];main;ioctl;do_syscall_64_[k];kvm_mmu_page_fault_[k] 5\n[guest mode];[vm a];[CPU 0/KVM];main;[unknown];svm_vcpu_run_[k] 7\n';
  it('reads context, user, kernel and KVM frames and writes them back the same', () => {
    const stacks = parseFolded(text);
    expect(stacks[0]?.frames.map((f) => f.kind)).toEqual(['context', 'context', 'context', 'user', 'user', 'kernel', 'kvm']);
    expect(stacks[1]?.frames.find((f) => f.name === '[unknown]')?.kind).toBe('user');
    expect(toFolded(makeProfile(META, stacks))).toBe(text);
  });
  it('merges equal stacks and drops ";" and line breaks from names', () => {
    const p = makeProfile(META, [
      { frames: [{ name: 'a;b', kind: 'user' }], count: 1 },
      { frames: [{ name: 'a;b', kind: 'user' }], count: 2 },
      { frames: [{ name: 'x\ny', kind: 'kernel' }], count: 1 },
    ]);
    expect(toFolded(p)).toBe('a:b 3\nx?y_[k] 1\n');
    expect(p.samples).toBe(4);
  });
  it('a malformed line is an error with its line number', () => {
    expect(() => parseFolded('a;b 1\na;b\n')).toThrow(FoldedParseError);
    expect(() => parseFolded('a;b 1\na;b\n')).toThrow(/line 2/);
    expect(parseFolded('# comment\n\na 1\n')).toHaveLength(1);
  });
});

describe('names from the machine', () => {
  it('control characters and characters XML forbids become "?" in every view (a thread can name itself anything)', () => {
    const p = makeProfile(META, [{ frames: [{ name: '[ev\x01il\x1b[31m]', kind: 'context' }, { name: 'vcpu\uffff', kind: 'user' }, { name: '</script><script>x()</script>]]>', kind: 'user' }], count: 1 }]);
    expect(p.stacks[0]?.frames.map((f) => f.name)).toEqual(['[ev?il?[31m]', 'vcpu?', '</script><script>x()</script>]]>']);
    const svg = renderSvg(p);
    expect(svg).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\uffff]/);
    expect(svg).not.toContain('<script><script>');
    expect(svg).toContain('&lt;/script&gt;&lt;script&gt;x()&lt;/script&gt;]]&gt;');
  });
});

describe('summary', () => {
  it('self is the leaf, total counts a recursive frame once, context frames are left out; by exit state from the root', () => {
    const p = profileOf('[exit NPF];[vm a];f;g;f 3\n[guest mode];[vm a];f;h_[k] 1\n');
    const s = summarize(p);
    expect(s.samples).toBe(4);
    expect(s.topTotal.map((x) => [x.name, x.samples])).toEqual([['f', 4], ['g', 3], ['h', 1]]);
    expect(s.topSelf.map((x) => [x.name, x.samples])).toEqual([['f', 3], ['h', 1]]);
    expect(s.byState.map((x) => [x.name, x.share])).toEqual([['[exit NPF]', 0.75], ['[guest mode]', 0.25]]);
  });
});

describe('SVG renderer', () => {
  const p = profileOf('[exit NPF];main;ioctl;kvm_mmu_page_fault_[k];direct_page_fault_[k] 60\n[exit NPF];main;ioctl;kvm_mmu_page_fault_[k] 20\n[guest mode];main;ioctl;svm_vcpu_run_[k] 19\n[guest mode];tiny 1\n');
  const frames = (svg: string) =>
    [...svg.matchAll(/<g class="f" data-name="([^"]*)" data-kind="(\w+)" data-x="(\d+)" data-samples="(\d+)"><title>([^<]*)<\/title><rect x="([\d.]+)" y="(\d+)" width="([\d.]+)"/g)].map((m) => ({
      name: m[1], kind: m[2], x: Number(m[3]), samples: Number(m[4]), title: m[5], px: Number(m[6]), y: Number(m[7]), w: Number(m[8]),
    }));
  it('draws every frame of the tree with a title, root at the bottom, children inside their parent', () => {
    const svg = renderSvg(p, { width: 1000 });
    const f = frames(svg);
    const tree = buildTree(p);
    let nodes = 0;
    const walk = (n: typeof tree): void => {
      nodes++;
      n.children.forEach(walk);
    };
    walk(tree);
    expect(f).toHaveLength(nodes);
    const root = f.find((x) => x.name === 'all');
    expect(root?.samples).toBe(100);
    expect(Math.max(...f.map((x) => x.y))).toBe(root?.y);
    const dpf = f.find((x) => x.name === 'direct_page_fault');
    expect(dpf?.title).toBe('direct_page_fault (60 samples, 60.00%)');
    expect(dpf?.kind).toBe('kvm');
    expect(dpf?.w).toBeCloseTo((980 * 60) / 100, 1);
    const mmu = f.find((x) => x.name === 'kvm_mmu_page_fault');
    expect(dpf!.px).toBeGreaterThanOrEqual(mmu!.px);
    expect(dpf!.px + dpf!.w).toBeLessThanOrEqual(mmu!.px + mmu!.w + 0.01);
    expect(dpf!.y).toBeLessThan(mmu!.y);
  });
  it('leaves out frames narrower than minWidth, escapes names, and stays self-contained', () => {
    const svg = renderSvg(profileOf('a<&>"b 1000\ntiny 1\n'), { width: 200, minWidth: 1 });
    expect(frames(svg).map((x) => x.name)).toEqual(['all', 'a&lt;&amp;&gt;&quot;b']);
    expect(svg).not.toMatch(/href=|src=|@import|url\(/);
    expect(escapeXml(`<'&">`)).toBe('&lt;&apos;&amp;&quot;&gt;');
  });
});

describe('outputs', () => {
  it('-o with an extension writes that format; otherwise a base name for each format', () => {
    expect(outputPaths('/tmp/x.svg', ['folded', 'svg', 'html'])).toEqual({ svg: '/tmp/x.svg' });
    expect(outputPaths('/tmp/x', ['folded', 'html'])).toEqual({ folded: '/tmp/x.folded', html: '/tmp/x.html' });
    expect(defaultFlameBase(new Date(2026, 10, 5, 7, 8, 9))).toBe('exitscope-flame-20261105-070809');
  });
  it('refuses a missing directory before anything is captured', () => {
    expect(() => checkWritable({ svg: '/nonexistent-dir/x.svg' })).toThrow(UserError);
    const dir = mkdtempSync(join(tmpdir(), 'flame-out-'));
    expect(() => checkWritable({ svg: dir })).toThrow(/is a directory/);
  });
  it('writes through a temporary file renamed into place; a failure leaves nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flame-out-'));
    writeAllAtomic([[join(dir, 'a.folded'), 'x 1\n']]);
    expect(readdirSync(dir)).toEqual(['a.folded']);
    expect(() => writeAllAtomic([[join(dir, 'missing', 'b.folded'), 'x']])).toThrow();
    expect(readdirSync(dir)).toEqual(['a.folded']);
  });
  it('all or nothing: when one file cannot be written, none is, and no temporary is left', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flame-out-'));
    expect(() => writeAllAtomic([[join(dir, 'a.folded'), 'x 1\n'], [join(dir, 'missing', 'b.svg'), '<svg/>']])).toThrow(UserError);
    expect(readdirSync(dir)).toEqual([]);
    writeAllAtomic([[join(dir, 'a.folded'), 'x 1\n'], [join(dir, 'b.svg'), '<svg/>']]);
    expect(readdirSync(dir).sort()).toEqual(['a.folded', 'b.svg']);
  });

  it('writes folded and SVG that read back to the same profile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flame-out-'));
    const p = profileOf('[exit IOIO];main;io_interception_[k] 4\n');
    const files = writeFlameFiles(p, outputPaths(join(dir, 'snap'), ['folded', 'svg']));
    expect(parseFolded(readFileSync(files.folded as string, 'utf8'))).toEqual(p.stacks);
    expect(readFileSync(files.svg as string, 'utf8')).toContain('<title>io_interception (4 samples, 100.00%)</title>');
    expect(existsSync(join(dir, 'snap.html'))).toBe(false);
    writeFileSync(join(dir, 'keep'), '');
  });
});
