import { describe, expect, it } from 'vitest';
import { ISA_SVM, ISA_VMX } from '../../src/model/exit-reasons.js';
import { decodeFault, EPT_QUAL_BITS, faultKind, PFERR_BITS } from '../../src/model/page-fault-bits.js';

// Bit positions as the kernel defines them (arch/x86/include/asm/kvm_host.h PFERR_*_BIT,
// arch/x86/include/asm/vmx.h EPT_VIOLATION_*_BIT), written out here from the headers.
const KERNEL_PFERR: Record<string, number> = { PRESENT: 0, WRITE: 1, USER: 2, RSVD: 3, FETCH: 4, PK: 5, SS: 6, SGX: 15, GUEST_RMP: 31, GUEST_FINAL: 32, GUEST_PAGE: 33, ENC: 34, SIZEM: 35, VMPL: 36 };
const KERNEL_EPT: Record<string, number> = { READ: 0, WRITE: 1, INSTR: 2, READABLE: 3, WRITABLE: 4, EXECUTABLE: 5, USER_EXECUTABLE: 6, GVA_VALID: 7, GVA_TRANSLATED: 8 };

describe('PFERR bits (AMD)', () => {
  it.each(PFERR_BITS.map(([bit, name]) => [name, bit] as const))('%s is bit %i and decodes alone', (name, bit) => {
    expect(KERNEL_PFERR[name]).toBe(bit);
    expect(decodeFault(ISA_SVM, 1n << BigInt(bit)).flags).toEqual([name]);
  });
  it.each([
    // codes seen in the lab (probes/page-faults_example.txt)
    [0x100000006n, 'write, not present', ['WRITE', 'USER', 'GUEST_FINAL']],
    [0x200000006n, 'write, not present', ['WRITE', 'USER', 'GUEST_PAGE']],
    [0x100000014n, 'fetch, not present', ['USER', 'FETCH', 'GUEST_FINAL']],
    [0x10000000fn, 'write, MMIO', ['PRESENT', 'WRITE', 'USER', 'RSVD', 'GUEST_FINAL']],
    [0x100000001n, 'read, present', ['PRESENT', 'GUEST_FINAL']],
  ])('%s: %s', (code, kind, flags) => {
    const d = decodeFault(ISA_SVM, code);
    expect(faultKind(d)).toBe(kind);
    expect(d.flags).toEqual(flags);
  });
  it('unknown high bits are ignored, not fatal', () => {
    expect(faultKind(decodeFault(ISA_SVM, (1n << 63n) | 2n))).toBe('write, not present');
  });
});

describe('EPT violation qualification (Intel)', () => {
  it.each(EPT_QUAL_BITS.map(([bit, name]) => [name, bit] as const))('%s is bit %i', (name, bit) => {
    expect(KERNEL_EPT[name]).toBe(bit);
    expect(decodeFault(ISA_VMX, 1n << BigInt(bit)).flags).toEqual([name]);
  });
  it.each([
    [0x181n, 'read, not present'], // READ | GVA_VALID | GVA_TRANSLATED
    [0x182n, 'write, not present'],
    [0x184n, 'fetch, not present'],
    [0x18an, 'write, present'], // WRITE | READABLE: a write to a read-only page
  ])('%s: %s', (code, kind) => {
    expect(faultKind(decodeFault(ISA_VMX, code))).toBe(kind);
  });
  it('the reserved bit means nothing on Intel: never MMIO from the code alone', () => {
    expect(decodeFault(ISA_VMX, 0x8n).mmio).toBe(false);
  });
});
