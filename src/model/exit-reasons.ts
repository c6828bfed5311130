/**
 * Exit reason tables, one per ISA, as `kvm:kvm_exit`'s `isa` field says:
 * 1 = VMX (Intel), 2 = SVM (AMD). Decode each event with its own ISA's table.
 *
 * Keep in sync with the kernel's uapi headers:
 *   SVM: arch/x86/include/uapi/asm/svm.h (SVM_EXIT_*, SVM_VMGEXIT_*; names as in SVM_EXIT_REASONS)
 *   VMX: arch/x86/include/uapi/asm/vmx.h (EXIT_REASON_*; names as in VMX_EXIT_REASONS)
 * The names are the macros' names without the SVM_EXIT_/EXIT_REASON_ prefix (what `perf kvm stat`
 * and kvm_stat show). Unknown codes are never dropped: they decode to UNKNOWN(0x..).
 * test/unit/exit-reasons.test.ts checks every entry.
 */

export const ISA_VMX = 1;
export const ISA_SVM = 2;
export type Isa = typeof ISA_VMX | typeof ISA_SVM;

/** x86 exception vectors: SVM exits 0x40 + vector are exception intercepts. */
const EXCEPTIONS: [number, string][] = [
  [0, 'DE'], [1, 'DB'], [2, 'NMI'], [3, 'BP'], [4, 'OF'], [5, 'BR'], [6, 'UD'], [7, 'NM'], [8, 'DF'], [9, 'CSO'],
  [10, 'TS'], [11, 'NP'], [12, 'SS'], [13, 'GP'], [14, 'PF'], [16, 'MF'], [17, 'AC'], [18, 'MC'], [19, 'XM'],
  [20, 'VE'], [21, 'CP'], [28, 'HV'], [29, 'VC'], [30, 'SX'],
];

export const SVM_EXIT_REASONS: ReadonlyMap<number, string> = new Map<number, string>([
  [0x000, 'READ_CR0'], [0x002, 'READ_CR2'], [0x003, 'READ_CR3'], [0x004, 'READ_CR4'], [0x008, 'READ_CR8'],
  [0x010, 'WRITE_CR0'], [0x012, 'WRITE_CR2'], [0x013, 'WRITE_CR3'], [0x014, 'WRITE_CR4'], [0x018, 'WRITE_CR8'],
  [0x020, 'READ_DR0'], [0x021, 'READ_DR1'], [0x022, 'READ_DR2'], [0x023, 'READ_DR3'],
  [0x024, 'READ_DR4'], [0x025, 'READ_DR5'], [0x026, 'READ_DR6'], [0x027, 'READ_DR7'],
  [0x030, 'WRITE_DR0'], [0x031, 'WRITE_DR1'], [0x032, 'WRITE_DR2'], [0x033, 'WRITE_DR3'],
  [0x034, 'WRITE_DR4'], [0x035, 'WRITE_DR5'], [0x036, 'WRITE_DR6'], [0x037, 'WRITE_DR7'],
  ...EXCEPTIONS.map(([v, n]): [number, string] => [0x040 + v, `EXCP_${n}`]),
  [0x060, 'INTR'], [0x061, 'NMI'], [0x062, 'SMI'], [0x063, 'INIT'], [0x064, 'VINTR'], [0x065, 'CR0_SEL_WRITE'],
  [0x066, 'IDTR_READ'], [0x067, 'GDTR_READ'], [0x068, 'LDTR_READ'], [0x069, 'TR_READ'],
  [0x06a, 'IDTR_WRITE'], [0x06b, 'GDTR_WRITE'], [0x06c, 'LDTR_WRITE'], [0x06d, 'TR_WRITE'],
  [0x06e, 'RDTSC'], [0x06f, 'RDPMC'], [0x070, 'PUSHF'], [0x071, 'POPF'], [0x072, 'CPUID'], [0x073, 'RSM'],
  [0x074, 'IRET'], [0x075, 'SWINT'], [0x076, 'INVD'], [0x077, 'PAUSE'], [0x078, 'HLT'], [0x079, 'INVLPG'],
  [0x07a, 'INVLPGA'], [0x07b, 'IOIO'], [0x07c, 'MSR'], [0x07d, 'TASK_SWITCH'], [0x07e, 'FERR_FREEZE'],
  [0x07f, 'SHUTDOWN'], [0x080, 'VMRUN'], [0x081, 'VMMCALL'], [0x082, 'VMLOAD'], [0x083, 'VMSAVE'],
  [0x084, 'STGI'], [0x085, 'CLGI'], [0x086, 'SKINIT'], [0x087, 'RDTSCP'], [0x088, 'ICEBP'], [0x089, 'WBINVD'],
  [0x08a, 'MONITOR'], [0x08b, 'MWAIT'], [0x08c, 'MWAIT_COND'], [0x08d, 'XSETBV'], [0x08e, 'RDPRU'],
  [0x08f, 'EFER_WRITE_TRAP'],
  ...Array.from({ length: 16 }, (_, i): [number, string] => [0x090 + i, `CR${i}_WRITE_TRAP`]),
  [0x0a2, 'INVPCID'], [0x0a5, 'BUS_LOCK'], [0x0a6, 'IDLE_HLT'],
  [0x400, 'NPF'], [0x401, 'AVIC_INCOMPLETE_IPI'], [0x402, 'AVIC_UNACCELERATED_ACCESS'], [0x403, 'VMGEXIT'],
  // SEV-ES/SNP software-defined VMGEXIT events
  [0x80000001, 'VMGEXIT_MMIO_READ'], [0x80000002, 'VMGEXIT_MMIO_WRITE'], [0x80000003, 'VMGEXIT_NMI_COMPLETE'],
  [0x80000004, 'VMGEXIT_AP_HLT_LOOP'], [0x80000005, 'VMGEXIT_AP_JUMP_TABLE'], [0x80000010, 'VMGEXIT_PSC'],
  [0x80000011, 'VMGEXIT_GUEST_REQUEST'], [0x80000012, 'VMGEXIT_EXT_GUEST_REQUEST'], [0x80000013, 'VMGEXIT_AP_CREATION'],
  [0x8000fffd, 'VMGEXIT_HV_FEATURES'], [0x8000fffe, 'VMGEXIT_TERM_REQUEST'], [0x8000ffff, 'VMGEXIT_UNSUPPORTED_EVENT'],
  // SVM_EXIT_ERR is -1, seen as an unsigned 32-bit field
  [0xffffffff, 'ERR'],
]);

export const VMX_EXIT_REASONS: ReadonlyMap<number, string> = new Map<number, string>([
  [0, 'EXCEPTION_NMI'], [1, 'EXTERNAL_INTERRUPT'], [2, 'TRIPLE_FAULT'], [3, 'INIT_SIGNAL'], [4, 'SIPI_SIGNAL'],
  [7, 'INTERRUPT_WINDOW'], [8, 'NMI_WINDOW'], [9, 'TASK_SWITCH'], [10, 'CPUID'], [12, 'HLT'], [13, 'INVD'],
  [14, 'INVLPG'], [15, 'RDPMC'], [16, 'RDTSC'], [18, 'VMCALL'], [19, 'VMCLEAR'], [20, 'VMLAUNCH'],
  [21, 'VMPTRLD'], [22, 'VMPTRST'], [23, 'VMREAD'], [24, 'VMRESUME'], [25, 'VMWRITE'], [26, 'VMOFF'],
  [27, 'VMON'], [28, 'CR_ACCESS'], [29, 'DR_ACCESS'], [30, 'IO_INSTRUCTION'], [31, 'MSR_READ'],
  [32, 'MSR_WRITE'], [33, 'INVALID_STATE'], [34, 'MSR_LOAD_FAIL'], [36, 'MWAIT_INSTRUCTION'],
  [37, 'MONITOR_TRAP_FLAG'], [39, 'MONITOR_INSTRUCTION'], [40, 'PAUSE_INSTRUCTION'], [41, 'MCE_DURING_VMENTRY'],
  [43, 'TPR_BELOW_THRESHOLD'], [44, 'APIC_ACCESS'], [45, 'EOI_INDUCED'], [46, 'GDTR_IDTR'], [47, 'LDTR_TR'],
  [48, 'EPT_VIOLATION'], [49, 'EPT_MISCONFIG'], [50, 'INVEPT'], [51, 'RDTSCP'], [52, 'PREEMPTION_TIMER'],
  [53, 'INVVPID'], [54, 'WBINVD'], [55, 'XSETBV'], [56, 'APIC_WRITE'], [57, 'RDRAND'], [58, 'INVPCID'],
  [59, 'VMFUNC'], [60, 'ENCLS'], [61, 'RDSEED'], [62, 'PML_FULL'], [63, 'XSAVES'], [64, 'XRSTORS'],
  [67, 'UMWAIT'], [68, 'TPAUSE'], [70, 'ENCLV'], [71, 'SGX_CONFLICT'], [74, 'BUS_LOCK'], [75, 'NOTIFY'],
  [77, 'TDCALL'],
]);

/** VMX exit_reason bit 31: the VM entry failed; the low 16 bits are the basic reason. */
export const VMX_FAILED_VMENTRY = 0x80000000;

export interface DecodedReason {
  isa: number;
  /** The basic reason (VMX: low 16 bits), the key exitscope counts by. */
  reason: number;
  name: string;
  known: boolean;
}

export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

/** Decodes a raw kvm_exit exit_reason with the table of the event's own ISA. */
export function decodeExitReason(isa: number, raw: number): DecodedReason {
  if (isa === ISA_VMX) {
    const reason = raw & 0xffff;
    const name = VMX_EXIT_REASONS.get(reason);
    return { isa, reason, name: name ?? `UNKNOWN(${hex(reason)})`, known: name !== undefined };
  }
  if (isa === ISA_SVM) {
    const reason = raw >>> 0;
    const name = SVM_EXIT_REASONS.get(reason);
    return { isa, reason, name: name ?? `UNKNOWN(${hex(reason)})`, known: name !== undefined };
  }
  return { isa, reason: raw >>> 0, name: `UNKNOWN_ISA${isa}(${hex(raw)})`, known: false };
}

export function isaName(isa: number): string {
  return isa === ISA_VMX ? 'vmx' : isa === ISA_SVM ? 'svm' : `isa${isa}`;
}
