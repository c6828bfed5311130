/**
 * Decoding kvm:kvm_page_fault's error_code, per vendor.
 *
 * AMD (SVM, #NPF): PFERR format. Keep in sync with arch/x86/include/asm/kvm_host.h (PFERR_*_BIT).
 * Intel (VMX, EPT violation): the raw exit qualification. Keep in sync with
 * arch/x86/include/asm/vmx.h (EPT_VIOLATION_*) and arch/x86/kvm/vmx/vmx.c handle_ept_violation.
 */
import { ISA_SVM, ISA_VMX } from './exit-reasons.js';

export const PFERR_BITS: readonly [number, string][] = [
  [0, 'PRESENT'], [1, 'WRITE'], [2, 'USER'], [3, 'RSVD'], [4, 'FETCH'], [5, 'PK'], [6, 'SS'],
  [15, 'SGX'], [31, 'GUEST_RMP'], [32, 'GUEST_FINAL'], [33, 'GUEST_PAGE'], [34, 'ENC'], [35, 'SIZEM'], [36, 'VMPL'],
];

export const EPT_QUAL_BITS: readonly [number, string][] = [
  [0, 'READ'], [1, 'WRITE'], [2, 'INSTR'], [3, 'READABLE'], [4, 'WRITABLE'], [5, 'EXECUTABLE'],
  [6, 'USER_EXECUTABLE'], [7, 'GVA_VALID'], [8, 'GVA_TRANSLATED'],
];

export type FaultAccess = 'read' | 'write' | 'fetch';

export interface DecodedFault {
  access: FaultAccess;
  /** The translation existed (a protection fault) rather than being missing. */
  present: boolean;
  /** A reserved-bit fault: KVM's MMIO fast path (AMD). */
  mmio: boolean;
  flags: string[];
}

function bitNames(code: bigint, table: readonly [number, string][]): string[] {
  return table.filter(([bit]) => (code >> BigInt(bit)) & 1n).map(([, name]) => name);
}

/**
 * `code` as bpftrace prints it (an unsigned 64-bit integer, possibly beyond 2^53: pass a bigint).
 * `tdp` is the host's nested paging (the hello's): on Intel with EPT off, kvm_page_fault comes from
 * guest #PF intercepts (EXCEPTION_NMI exits, kvm_handle_page_fault) and carries the x86 page-fault
 * error code, as on AMD; only with EPT on is it an EPT violation's exit qualification. Unknown
 * (undefined/null) is read as EPT on, the only case where Intel has EPT violations at all.
 */
export function decodeFault(isa: number, code: bigint, tdp?: boolean | null): DecodedFault {
  if (isa === ISA_VMX && tdp === false) {
    const flags = bitNames(code, PFERR_BITS);
    const access: FaultAccess = flags.includes('FETCH') ? 'fetch' : flags.includes('WRITE') ? 'write' : 'read';
    // shadow paging's MMIO sptes have reserved bits set: those accesses fault with RSVD
    return { access, present: flags.includes('PRESENT'), mmio: flags.includes('RSVD'), flags };
  }
  if (isa === ISA_VMX) {
    const flags = bitNames(code, EPT_QUAL_BITS);
    const access: FaultAccess = flags.includes('INSTR') ? 'fetch' : flags.includes('WRITE') ? 'write' : 'read';
    // any of readable/writable/executable: the EPT entry was present
    const present = flags.some((f) => f === 'READABLE' || f === 'WRITABLE' || f === 'EXECUTABLE');
    return { access, present, mmio: false, flags };
  }
  const flags = bitNames(code, PFERR_BITS);
  const access: FaultAccess = flags.includes('FETCH') ? 'fetch' : flags.includes('WRITE') ? 'write' : 'read';
  return { access, present: flags.includes('PRESENT'), mmio: isa === ISA_SVM && flags.includes('RSVD'), flags };
}

/** Short text for a decoded fault: "write, not present" / "read, MMIO". */
export function faultKind(d: DecodedFault): string {
  return `${d.access}, ${d.mmio ? 'MMIO' : d.present ? 'present' : 'not present'}`;
}
