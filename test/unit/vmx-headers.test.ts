import { describe, expect, it } from 'vitest';
import { decodeExitReason, ISA_VMX, VMX_EXIT_REASONS, VMX_FAILED_VMENTRY } from '../../src/model/exit-reasons.js';
import { decodeFault, EPT_QUAL_BITS, faultKind, PFERR_BITS } from '../../src/model/page-fault-bits.js';

/**
 * The VMX exit reasons as the kernel's uapi header defines them: every EXIT_REASON_* macro of
 * arch/x86/include/uapi/asm/vmx.h (Linux mainline, read in the Kingxukai/linux mirror at
 * 9b44fff655e2c6f4cc53cb499dd2c038e99cb013), written out here as (code, name). Names are the
 * macro names without EXIT_REASON_, as in the header's VMX_EXIT_REASONS table (which is what
 * kvm_exit prints). EXIT_REASON_OTHER_SMI (6) has a macro but no entry in VMX_EXIT_REASONS.
 */
const UAPI_VMX_EXIT_REASONS: readonly [number, string][] = [
  [0, 'EXCEPTION_NMI'], [1, 'EXTERNAL_INTERRUPT'], [2, 'TRIPLE_FAULT'], [3, 'INIT_SIGNAL'], [4, 'SIPI_SIGNAL'],
  [7, 'INTERRUPT_WINDOW'], [8, 'NMI_WINDOW'], [9, 'TASK_SWITCH'], [10, 'CPUID'], [12, 'HLT'], [13, 'INVD'],
  [14, 'INVLPG'], [15, 'RDPMC'], [16, 'RDTSC'], [18, 'VMCALL'], [19, 'VMCLEAR'], [20, 'VMLAUNCH'], [21, 'VMPTRLD'],
  [22, 'VMPTRST'], [23, 'VMREAD'], [24, 'VMRESUME'], [25, 'VMWRITE'], [26, 'VMOFF'], [27, 'VMON'], [28, 'CR_ACCESS'],
  [29, 'DR_ACCESS'], [30, 'IO_INSTRUCTION'], [31, 'MSR_READ'], [32, 'MSR_WRITE'], [33, 'INVALID_STATE'],
  [34, 'MSR_LOAD_FAIL'], [36, 'MWAIT_INSTRUCTION'], [37, 'MONITOR_TRAP_FLAG'], [39, 'MONITOR_INSTRUCTION'],
  [40, 'PAUSE_INSTRUCTION'], [41, 'MCE_DURING_VMENTRY'], [43, 'TPR_BELOW_THRESHOLD'], [44, 'APIC_ACCESS'],
  [45, 'EOI_INDUCED'], [46, 'GDTR_IDTR'], [47, 'LDTR_TR'], [48, 'EPT_VIOLATION'], [49, 'EPT_MISCONFIG'],
  [50, 'INVEPT'], [51, 'RDTSCP'], [52, 'PREEMPTION_TIMER'], [53, 'INVVPID'], [54, 'WBINVD'], [55, 'XSETBV'],
  [56, 'APIC_WRITE'], [57, 'RDRAND'], [58, 'INVPCID'], [59, 'VMFUNC'], [60, 'ENCLS'], [61, 'RDSEED'],
  [62, 'PML_FULL'], [63, 'XSAVES'], [64, 'XRSTORS'], [67, 'UMWAIT'], [68, 'TPAUSE'], [74, 'BUS_LOCK'],
  [75, 'NOTIFY'], [77, 'TDCALL'],
];
/** VMX_EXIT_REASONS_FAILED_VMENTRY in the same header. */
const UAPI_FAILED_VMENTRY = 0x80000000;

/**
 * The EPT-violation exit qualification as arch/x86/include/asm/vmx.h defines it from 5.19 on (6.1
 * included): EPT_VIOLATION_ACC_READ_BIT 0, ACC_WRITE_BIT 1, ACC_INSTR_BIT 2; EPT_VIOLATION_RWX_SHIFT 3
 * over VMX_EPT_RWX_MASK (READABLE 1<<0, WRITABLE 1<<1, EXECUTABLE 1<<2), i.e. bits 3, 4, 5 say what the
 * EPT entry allowed; bit 6 the user-executable permission (mode-based execute control, Intel SDM
 * Table 28-7, EPT_VIOLATION_USER_INSTR_BIT in later kernels); EPT_VIOLATION_GVA_IS_VALID_BIT 7,
 * EPT_VIOLATION_GVA_TRANSLATED_BIT 8. (Commit 68ca1f59584e "KVM: x86/mmu: Derive EPT violation RWX
 * bits from EPTE RWX bits", as posted on the kvm list, shows both the old per-bit and the new shifted form.)
 */
const ASM_EPT_VIOLATION_BITS: Record<string, number> = {
  READ: 0, WRITE: 1, INSTR: 2, READABLE: 3 + 0, WRITABLE: 3 + 1, EXECUTABLE: 3 + 2, USER_EXECUTABLE: 6, GVA_VALID: 7, GVA_TRANSLATED: 8,
};

/** The x86 page-fault error code (arch/x86/include/asm/kvm_host.h PFERR_*_BIT), used on Intel with EPT off. */
const PFERR_LOW_BITS: Record<string, number> = { PRESENT: 0, WRITE: 1, USER: 2, RSVD: 3, FETCH: 4, PK: 5 };

describe('VMX exit reasons against arch/x86/include/uapi/asm/vmx.h', () => {
  it.each(UAPI_VMX_EXIT_REASONS)('%i is %s', (code, name) => {
    expect(VMX_EXIT_REASONS.get(code)).toBe(name);
    expect(decodeExitReason(ISA_VMX, code)).toEqual({ isa: ISA_VMX, reason: code, name, known: true });
  });
  it('every code the table has beyond the header is an SGX reason of the SDM (ENCLV 70, SGX_CONFLICT 71)', () => {
    const header = new Set(UAPI_VMX_EXIT_REASONS.map(([c]) => c));
    expect([...VMX_EXIT_REASONS.keys()].filter((c) => !header.has(c))).toEqual([70, 71]);
  });
  it('the failed-VM-entry flag is masked off, the basic reason kept', () => {
    expect(VMX_FAILED_VMENTRY).toBe(UAPI_FAILED_VMENTRY);
    expect(decodeExitReason(ISA_VMX, UAPI_FAILED_VMENTRY | 33).name).toBe('INVALID_STATE');
  });
});

describe('EPT violation qualification against arch/x86/include/asm/vmx.h', () => {
  it('has every bit the header defines, at its position', () => {
    expect(Object.fromEntries(EPT_QUAL_BITS.map(([bit, name]) => [name, bit]))).toEqual(ASM_EPT_VIOLATION_BITS);
  });
  it.each([
    // seen in the Intel lab (kernel 6.1, kvm_intel ept=1; docs/lab.md)
    [0x182n, 'write, not present'],
    [0x184n, 'fetch, not present'],
    [0x181n, 'read, not present'],
    [0x18bn, 'write, present'], // READ | WRITE | READABLE: a write to a page the EPT entry maps read-only
  ])('%s: %s', (code, kind) => {
    expect(faultKind(decodeFault(ISA_VMX, code))).toBe(kind);
  });
});

describe('Intel with EPT off: kvm_page_fault carries the #PF error code', () => {
  it('has the PFERR bits at the header\'s positions', () => {
    for (const [name, bit] of Object.entries(PFERR_LOW_BITS)) expect(PFERR_BITS.find(([, n]) => n === name)?.[0]).toBe(bit);
  });
  it.each([
    [0x2n, 'write, not present'],
    [0x10n, 'fetch, not present'],
    [0xbn, 'write, MMIO'], // PRESENT | WRITE | RSVD: a shadow MMIO spte
    [0x3n, 'write, present'],
  ])('%s: %s', (code, kind) => {
    expect(faultKind(decodeFault(ISA_VMX, code, false))).toBe(kind);
  });
  it('the same code reads differently with EPT on (an exit qualification)', () => {
    expect(faultKind(decodeFault(ISA_VMX, 0x10n, true))).toBe('read, present'); // bit 4: the entry was writable
    expect(faultKind(decodeFault(ISA_VMX, 0x10n, false))).toBe('fetch, not present');
  });
});
