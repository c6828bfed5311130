/**
 * Environment defaults of the Intel lab's guest: exported before the command runs, each only if
 * the command does not set it (`EXITSCOPE_MAP_KEYS_MAX=65536 exitscope run ...` wins).
 *
 * EXITSCOPE_MAP_KEYS_MAX: bpftrace 0.17 preallocates every hash map at its cap, a per-CPU value
 * for every key of the counting maps (18 of them at the default 65,536 keys: about 1.2 million
 * allocations). Bochs emulates each of those kernel instructions: measured in the lab, an
 * `exitscope run -- true` took 197 s of host time at the default cap and 86 s at 4,096 (the
 * guest's system time 48.6 s against 10.3 s). The lab's guest runs a handful of VMs: an
 * interval's keys are tens, far from 4,096, and a fuller map is said (MAPS_NEARLY_FULL), never
 * silent. The QEMU lab keeps exitscope's own default: it pays seconds, not minutes.
 */
export const INTEL_GUEST_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  EXITSCOPE_MAP_KEYS_MAX: '4096',
};
