/**
 * Diagnosis hints: patterns in a report that an engineer would otherwise find
 * by reading KVM's source (the seed article's hours become one line).
 * Rules are data; each is tested in test/unit/hints.test.ts.
 */
import type { Report } from './report.js';

export interface Hint {
  id: string;
  severity: 'info' | 'warning';
  message: string;
}

interface Rule {
  id: string;
  severity: Hint['severity'];
  applies: (r: Report) => boolean;
  message: (r: Report) => string;
}

const share = (r: Report, ...names: string[]): number => r.exits.filter((e) => names.includes(e.name)).reduce((a, e) => a + e.share, 0);
/** Whole percents, but never rounded up to a misleading 100% (or down to 0%). */
const pct = (x: number): string => {
  const v = x * 100;
  return (v > 99 && v < 100) || (v > 0 && v < 1) ? `${v.toFixed(1)}%` : `${v.toFixed(0)}%`;
};
const shadowCalls = (r: Report): number => r.handlers.filter((h) => h.role === 'shadow').reduce((a, h) => a + h.count, 0);
const count = (r: Report, name: string): number => r.exits.find((e) => e.name === name)?.count ?? 0;
/**
 * Share of exits that are intercepted guest page faults. SVM has its own reason (EXCP_PF); VMX
 * folds every exception into EXCEPTION_NMI, so those carrying a #PF are counted by the
 * kvm_page_fault events KVM emits for them (kvm_handle_page_fault) when there are no EPT
 * violations (with EPT on, kvm_page_fault comes from EPT violations instead).
 */
const pfInterceptShare = (r: Report): number => {
  if (r.totalExits === 0) return 0;
  const vmxPf = count(r, 'EPT_VIOLATION') === 0 ? Math.min(count(r, 'EXCEPTION_NMI'), r.pageFaults.count) : 0;
  return (count(r, 'EXCP_PF') + vmxPf) / r.totalExits;
};

export const RULES: readonly Rule[] = [
  {
    id: 'shadow-paging',
    severity: 'warning',
    // SVM 0x4e / VMX EXCEPTION_NMI exits carrying #PF, or shadow handlers busy, with no TDP faults
    applies: (r) => (pfInterceptShare(r) >= 0.2 || shadowCalls(r) > 0) && r.tdpFaults.count === 0 && r.totalExits > 0,
    message: (r) =>
      `Guest page faults are intercepted (${pct(pfInterceptShare(r))} of exits${r.vendor === 'intel' ? ' are EXCEPTION_NMI exits carrying #PF' : ''}${shadowCalls(r) ? `, ${shadowCalls(r)} shadow-paging handler calls` : ''}): nested paging (NPT/EPT) is off or unusable, so KVM shadows the guest page tables. Check /sys/module/kvm_amd/parameters/npt (kvm_intel: ept) and the VM's CPU model.`,
  },
  {
    id: 'mmio',
    severity: 'warning',
    applies: (r) => r.pageFaults.mmio > 0 && r.pageFaults.mmio >= 0.2 * r.totalExits,
    message: (r) => `MMIO emulation dominates: ${r.pageFaults.mmio} reserved-bit (MMIO) faults, ${pct(r.pageFaults.mmio / Math.max(1, r.totalExits))} of exits. An emulated device is being polled; a virtio device or ioeventfd avoids these exits.`,
  },
  {
    id: 'hlt-storm',
    severity: 'info',
    applies: (r) => share(r, 'HLT') >= 0.3,
    message: (r) => `HLT is ${pct(share(r, 'HLT'))} of exits: vCPUs go idle and wake often. If wake-up latency matters, look at halt_poll_ns; if guests idle, this is harmless.`,
  },
  {
    id: 'nested-faults',
    severity: 'info',
    applies: (r) => r.tdp === true && share(r, 'NPF', 'EPT_VIOLATION') >= 0.3 && r.pageFaults.mmio < 0.1 * r.pageFaults.count,
    message: (r) => `Nested page faults are ${pct(share(r, 'NPF', 'EPT_VIOLATION'))} of exits (${r.tdpFaults.count} through ${r.tdpFaults.handler ?? 'the TDP handler'}): guest memory is being touched for the first time or was reclaimed. Backing guests with huge pages, or preallocating their memory, removes most of these.`,
  },
  {
    id: 'lost-events',
    severity: 'warning',
    applies: (r) => r.lostEvents > 0,
    message: (r) => `${r.lostEvents} events were lost: counts are incomplete. Lower the detail rate or the interval.`,
  },
  {
    id: 'gaps',
    severity: 'warning',
    applies: (r) => r.gaps.length > 0,
    message: (r) => `Counting stopped ${r.gaps.length} time(s) (${r.gaps[0]?.reason}): exits in those gaps are missing.`,
  },
];

export function hintsFor(r: Report): Hint[] {
  return RULES.filter((rule) => rule.applies(r)).map((rule) => ({ id: rule.id, severity: rule.severity, message: rule.message(r) }));
}
