import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFlameProgram } from '../../src/flame/program.js';
import { parseBpftraceVersion, parseFormatFields } from '../../src/probes/capabilities.js';
import { deleteEntry, DELETE_WITH_KEY_SINCE, dialectFor, hasRacyFirstInsert, KERNEL_INT_TYPES, PORTABLE_DIALECT, supportsDeleteWithKey } from '../../src/probes/dialect.js';
import { buildProgram, type ProgramOptions } from '../../src/probes/program.js';
import { fakeCaps } from './support/fake-caps.js';

const ALL: ProgramOptions = { intervalMs: 1000, latency: true, pageFaults: true, handlers: ['kvm_tdp_page_fault', 'paging64_page_fault'], detailPerInterval: 100 };
const format510 = (tp: string): string => readFileSync(join(import.meta.dirname, '../fixtures/tracefs/5.10', `${tp}.format`), 'utf8');

/** args->field reads per tracepoint block of a program. */
function fieldsRead(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const block of text.split(/\n(?=tracepoint:)/)) {
    const m = /^tracepoint:kvm:(\w+)/.exec(block);
    if (!m?.[1]) continue;
    const body = block.split(/\n(?=[a-z]+:|END|BEGIN)/)[0] ?? '';
    const set = out.get(m[1]) ?? new Set<string>();
    for (const f of body.matchAll(/args->(\w+)/g)) if (f[1]) set.add(f[1]);
    out.set(m[1], set);
  }
  return out;
}

describe('kernels without BTF for the kvm module (5.10)', () => {
  const plain = buildProgram(ALL).text;
  const typed = buildProgram({ ...ALL, dialect: { ...PORTABLE_DIALECT, kernelTypes: true } }).text;

  it('defines the kernel integer types before any probe, and changes nothing else', () => {
    const lines = typed.split('\n');
    const defines = lines.filter((l) => l.startsWith('#define '));
    expect(defines.map((l) => l.split(' ')[1])).toEqual(KERNEL_INT_TYPES.map(([n]) => n));
    const lastDefine = lines.map((l) => l.startsWith('#define ')).lastIndexOf(true);
    expect(lastDefine).toBeLessThan(lines.findIndex((l) => l.startsWith('BEGIN')));
    expect(lines.filter((l) => !l.startsWith('#define ') && !l.startsWith('// no BTF')).join('\n')).toBe(plain);
    expect(plain).not.toContain('#define');
  });

  it("defines every type 5.10's kvm tracepoint formats use that C does not know", () => {
    const cTypes = new Set(['unsigned', 'signed', 'int', 'long', 'short', 'char', 'bool', '_Bool']);
    const defined = new Set(KERNEL_INT_TYPES.map(([n]) => n));
    for (const tp of ['kvm_exit', 'kvm_entry', 'kvm_page_fault']) {
      for (const m of format510(tp).matchAll(/field:([^;]+);/g)) {
        const words = (m[1] ?? '').trim().split(/\s+/).slice(0, -1);
        for (const w of words) expect(cTypes.has(w) || defined.has(w), `${tp}: ${m[1]}`).toBe(true);
      }
    }
    // and they are what the kernel means by them
    expect(new Map(KERNEL_INT_TYPES).get('u32')).toBe('unsigned int');
    expect(new Map(KERNEL_INT_TYPES).get('u64')).toBe('unsigned long long');
  });

  it("reads only fields that 5.10's tracepoints have (kvm_page_fault has no vcpu_id or guest_rip there)", () => {
    const read = fieldsRead(typed);
    expect([...read.keys()].sort()).toEqual(['kvm_entry', 'kvm_exit', 'kvm_page_fault']);
    expect(read.get('kvm_exit')).toContain('guest_rip'); // the detail stream reads it: 5.10's kvm_exit has it
    for (const [tp, fields] of read) {
      const has = parseFormatFields(format510(tp));
      for (const f of fields) expect(has, `${tp} reads ${f}`).toContain(f);
    }
  });

  it('the flame program defines them too when asked', () => {
    const flame = buildFlameProgram({ hz: 99, durationMs: 1000, reasons: true, userStacks: false, kernelTypes: true });
    expect(flame).toContain('#define u32 unsigned int');
    expect(flame.indexOf('#define')).toBeLessThan(flame.indexOf('BEGIN'));
    expect(buildFlameProgram({ hz: 99, durationMs: 1000, reasons: true, userStacks: false })).not.toContain('#define');
  });
});

describe('delete(): the form for the detected bpftrace', () => {
  // `bpftrace --version` as each release prints it
  const cases: [string, boolean][] = [
    ['bpftrace v0.11.3', false],
    ['bpftrace v0.17.0', false],
    ['bpftrace v0.21.2', false],
    ['bpftrace v0.22.0', true],
    ['bpftrace v0.23.2', true],
    ['bpftrace v0.27.1', true],
    ['bpftrace v1.0.0', true],
  ];
  it.each(cases)('%s: delete(@map, key) is %s', (text, expected) => {
    expect(supportsDeleteWithKey(parseBpftraceVersion(text))).toBe(expected);
  });

  it('is the old form when the version is unknown', () => {
    expect(supportsDeleteWithKey(undefined)).toBe(false);
    expect(DELETE_WITH_KEY_SINCE).toEqual({ major: 0, minor: 22 });
  });

  it('spells each form', () => {
    expect(deleteEntry('@exit_start', 'tid', { deleteWithKey: true })).toBe('delete(@exit_start, tid)');
    expect(deleteEntry('@exit_start', 'tid', { deleteWithKey: false })).toBe('delete(@exit_start[tid])');
  });

  it('the program uses one form throughout', () => {
    const newer = buildProgram({ ...ALL, dialect: { ...PORTABLE_DIALECT, deleteWithKey: true } }).text;
    const older = buildProgram(ALL).text;
    const deletes = (t: string): string[] => [...t.matchAll(/delete\([^;]*\);/g)].map((m) => m[0]);
    // exit_start twice (entry, process exit), each handler's start twice
    expect(deletes(older)).toHaveLength(6);
    expect(deletes(newer)).toHaveLength(6);
    for (const d of deletes(older)) expect(d).toMatch(/^delete\(@\w+\[tid\]\);$/);
    for (const d of deletes(newer)) expect(d).toMatch(/^delete\(@\w+, tid\);$/);
  });
});

describe('dialectFor: from the capabilities', () => {
  const base = fakeCaps('/bin/true');
  it('bpftrace 0.17 on a kernel with kvm module BTF: the portable program', () => {
    expect(dialectFor({ ...base, kvmModuleBtf: true })).toEqual(PORTABLE_DIALECT);
  });
  it('no kvm module BTF (5.10): the types are defined', () => {
    expect(dialectFor({ ...base, kvmModuleBtf: false })).toEqual({ kernelTypes: true, deleteWithKey: false, threadKeys: false });
  });
  it('not looked at, or kvm not loaded: nothing defined', () => {
    expect(dialectFor(base).kernelTypes).toBe(false);
    expect(dialectFor({ ...base, kvmLoaded: false, kvmModuleBtf: false }).kernelTypes).toBe(false);
  });
  it('bpftrace 0.27: the new delete', () => {
    expect(dialectFor({ ...base, kvmModuleBtf: true, bpftrace: { path: '/usr/bin/bpftrace', version: '0.27.1', major: 0, minor: 27 } })).toEqual({ kernelTypes: false, deleteWithKey: true, threadKeys: false });
  });
  // every release on either side of the racy range, and the ones seen: 0.17 (BPF_ANY), 0.23.2 (BPF_NOEXIST), 0.27.1 (BPF_ANY)
  it.for([
    ['0.17.0', false],
    ['0.19.1', false],
    ['0.20.0', true],
    ['0.21.2', true],
    ['0.22.1', true],
    ['0.23.2', true],
    ['0.24.0', false],
    ['0.27.1', false],
    ['1.0.0', false],
  ] as const)('bpftrace %s: keys by thread %s', ([version, racy]) => {
    const v = parseBpftraceVersion(`bpftrace v${version}`);
    expect(v).toBeDefined();
    expect(hasRacyFirstInsert(v)).toBe(racy);
    expect(dialectFor({ ...base, kvmModuleBtf: true, bpftrace: { path: '/usr/bin/bpftrace', version, ...(v as { major: number; minor: number }) } }).threadKeys).toBe(racy);
  });
  it('no bpftrace known: no keys by thread', () => {
    expect(hasRacyFirstInsert(undefined)).toBe(false);
  });
});

describe('keys by thread (bpftrace 0.20-0.23: a key two CPUs add at once loses a count)', () => {
  const plain = buildProgram(ALL).text;
  const threaded = buildProgram({ ...ALL, dialect: { ...PORTABLE_DIALECT, threadKeys: true } }).text;
  const byVm = buildProgram({ ...ALL, exitsByThread: false, dialect: { ...PORTABLE_DIALECT, threadKeys: true } }).text;
  /** The key of every counting map's update, by map name. */
  const keys = (text: string): Map<string, Set<string>> => {
    const out = new Map<string, Set<string>>();
    for (const m of text.matchAll(/(@(?:exits|exit_ns|faults|fault_regions_2m|handler_calls|handler_ns)\d)\[([^\]]*)\] = (?:count|hist)\(/g)) {
      const name = (m[1] as string).slice(0, -1);
      const set = out.get(name) ?? new Set<string>();
      set.add(m[2] as string);
      out.set(name, set);
    }
    return out;
  };

  it('every counting map is keyed by thread, right after the pid; nothing else changes', () => {
    const k = keys(threaded);
    expect([...k.keys()].sort()).toEqual(['@exit_ns', '@exits', '@fault_regions_2m', '@faults', '@handler_calls', '@handler_ns']);
    for (const [name, set] of k) for (const key of set) expect(key.startsWith('pid, tid, '), `${name}[${key}]`).toBe(true);
    // the same program but for those keys
    expect(threaded.replaceAll('pid, tid, ', 'pid, ')).toBe(plain.replaceAll('pid, tid, ', 'pid, '));
    for (const [name, set] of keys(plain)) if (name !== '@exits') for (const key of set) expect(key.startsWith('pid, tid'), `${name}[${key}]`).toBe(false);
  });

  it('exit counts by VM keep the thread too where the key would be raced', () => {
    expect([...(keys(byVm).get('@exits') ?? [])]).toEqual(['pid, tid, $isa, $reason']);
    expect([...(keys(buildProgram({ ...ALL, exitsByThread: false }).text).get('@exits') ?? [])]).toEqual(['pid, 0, $isa, $reason']);
  });
});
