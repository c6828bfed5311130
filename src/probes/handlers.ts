/**
 * The page-fault handlers exitscope can probe, by role (a table: no I/O, so the
 * browser page can use it too). capabilities.ts finds which exist on a kernel.
 */
/** Handlers probed for fault count and latency, in preference order within each role. */
export const HANDLERS = {
  /** Two-dimensional paging (NPT/EPT): renamed in 5.6 (commit 7a02674d). */
  tdp: ['kvm_tdp_page_fault', 'tdp_page_fault'],
  /** Shadow paging (npt=0/ept=0): one per guest paging mode. */
  shadow: ['paging64_page_fault', 'paging32_page_fault', 'nonpaging_page_fault', 'ept_page_fault'],
} as const;
