import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeExitReason, ISA_SVM, ISA_VMX, SVM_EXIT_REASONS, VMX_EXIT_REASONS } from '../../src/model/exit-reasons.js';

/**
 * The kernel's own tables, as compiled into the lab's 6.1 kernel: kvm_exit's
 * print fmt has __print_symbolic() with VMX_EXIT_REASONS and SVM_EXIT_REASONS.
 */
const format = readFileSync(join(import.meta.dirname, '../fixtures/tracefs/kvm_exit.format'), 'utf8');
const kernelVmx = [...format.matchAll(/\{ (\d+), "([A-Z_]+)" \}/g)].map((m) => [Number(m[1]), m[2] as string] as const);
// (0x80000000 FAILED_VMENTRY is the VMX flag printed with __print_flags, not an SVM reason)
const kernelSvm = [...format.matchAll(/\{ (0x[0-9a-f]+), "([^"]+)" \}/g)].map((m) => [Number(m[1]), m[2] as string] as const).filter(([, n]) => n !== 'FAILED_VMENTRY');

// The kernel prints short names; we use the macro names (as perf kvm stat does). Where they differ:
const SVM_ALIASES: Record<string, string> = {
  interrupt: 'INTR', io: 'IOIO', hypercall: 'VMMCALL', read_rt: 'TR_READ', write_rt: 'TR_WRITE',
  read_idtr: 'IDTR_READ', read_gdtr: 'GDTR_READ', read_ldtr: 'LDTR_READ', write_idtr: 'IDTR_WRITE',
  write_gdtr: 'GDTR_WRITE', write_ldtr: 'LDTR_WRITE', invalid_guest_state: 'ERR', 'XF excp': 'EXCP_XM',
  write_efer_trap: 'EFER_WRITE_TRAP', write_cr0_trap: 'CR0_WRITE_TRAP', write_cr4_trap: 'CR4_WRITE_TRAP',
  write_cr8_trap: 'CR8_WRITE_TRAP', vmgexit_hypervisor_feature: 'VMGEXIT_HV_FEATURES',
  vmgexit_page_state_change: 'VMGEXIT_PSC',
};
const svmName = (kernel: string): string => SVM_ALIASES[kernel] ?? (kernel.endsWith(' excp') ? `EXCP_${kernel.slice(0, -5)}` : kernel.toUpperCase());

describe('exit reason tables against the kernel (6.1 tracepoint format)', () => {
  it('found the kernel tables in the fixture', () => {
    expect(kernelVmx.length).toBeGreaterThan(55);
    expect(kernelSvm.length).toBeGreaterThan(80);
  });

  it.each(kernelVmx)('VMX %d is %s', (code, name) => {
    expect(VMX_EXIT_REASONS.get(code)).toBe(name);
    expect(decodeExitReason(ISA_VMX, code)).toMatchObject({ reason: code, name, known: true });
  });

  it.each(kernelSvm.map(([c, n]) => [`0x${c.toString(16)}`, n, c] as const))('SVM %s is %s', (_hex, name, code) => {
    expect(SVM_EXIT_REASONS.get(code)).toBe(svmName(name));
  });
});

describe('every table entry', () => {
  for (const [isa, table] of [
    [ISA_SVM, SVM_EXIT_REASONS],
    [ISA_VMX, VMX_EXIT_REASONS],
  ] as const) {
    it(`${isa === ISA_SVM ? 'SVM' : 'VMX'}: unique, upper-case names that decode back`, () => {
      const names = [...table.values()];
      expect(new Set(names).size).toBe(names.length);
      for (const [code, name] of table) {
        expect(name).toMatch(/^[A-Z0-9_]+$/);
        expect(decodeExitReason(isa, code).name).toBe(name);
      }
    });
  }

  it('SVM exception intercepts are 0x40 + vector', () => {
    expect(SVM_EXIT_REASONS.get(0x40 + 14)).toBe('EXCP_PF');
    expect(SVM_EXIT_REASONS.get(0x40 + 6)).toBe('EXCP_UD');
  });

  it('has the reasons seen in the lab', () => {
    expect([0x60, 0x72, 0x78, 0x7b, 0x7c, 0x400, 0x4e].map((c) => decodeExitReason(ISA_SVM, c).name)).toEqual(['INTR', 'CPUID', 'HLT', 'IOIO', 'MSR', 'NPF', 'EXCP_PF']);
  });
});

describe('decodeExitReason', () => {
  it('masks VMX bit 31 (failed VM entry) and keeps the basic reason', () => {
    expect(decodeExitReason(ISA_VMX, 0x80000021)).toMatchObject({ reason: 33, name: 'INVALID_STATE' });
  });
  it('never drops an unknown code', () => {
    expect(decodeExitReason(ISA_SVM, 0x4ff)).toEqual({ isa: 2, reason: 0x4ff, name: 'UNKNOWN(0x4ff)', known: false });
    expect(decodeExitReason(ISA_VMX, 99)).toMatchObject({ name: 'UNKNOWN(0x63)', known: false });
    expect(decodeExitReason(7, 1)).toMatchObject({ name: 'UNKNOWN_ISA7(0x1)', known: false });
  });
  it('reads SVM_EXIT_ERR (-1) as an unsigned field', () => {
    expect(decodeExitReason(ISA_SVM, 0xffffffff).name).toBe('ERR');
    expect(decodeExitReason(ISA_SVM, -1).name).toBe('ERR');
  });
});
