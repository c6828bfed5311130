import type { Capabilities } from '../../../src/probes/capabilities.js';

/** A machine that can trace (AMD, nested paging on, every tracepoint), with `bpftrace` a stand-in script. */
export function fakeCaps(bpftrace: string): Capabilities {
  return {
    root: true,
    bpftrace: { path: bpftrace, version: '0.17.0', major: 0, minor: 17 },
    tracefs: '/sys/kernel/tracing',
    tracepoints: { kvm_exit: ['isa', 'exit_reason'], kvm_entry: ['rip'], kvm_page_fault: ['fault_address', 'error_code'] },
    kvmLoaded: true,
    vendor: 'amd',
    tdp: true,
    kprobes: true,
    btf: true,
    handlers: ['kvm_tdp_page_fault'],
    kernel: 'test',
    checks: [],
  };
}
