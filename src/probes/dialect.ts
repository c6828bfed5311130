/**
 * What the program text must look like for this machine's bpftrace and kernel: the forms that
 * differ between bpftrace releases and between kernels, chosen from the detected capabilities
 * (capabilities.ts) and nothing else. Both programs (probes/program.ts, flame/program.ts) take it.
 *
 * - Kernel integer types: bpftrace builds the kvm tracepoints' structs from their tracefs format
 *   files, whose fields are typed u32, u64... On kernels without BTF for modules (before 5.11:
 *   Debian 11's 5.10, Ubuntu 20.04's 5.4) nothing tells clang what those names are and bpftrace
 *   refuses the program ("unknown type name 'u32'"). The program then defines them itself, as the
 *   kernel does (include/asm-generic/int-ll64.h), before any probe. Only then: where BTF exists,
 *   bpftrace takes the same names from it and a second definition would clash.
 * - delete(): bpftrace 0.22 added `delete(@map, key)` (bpftrace PR #3472, CHANGELOG 0.22.0
 *   "Change delete API to accept a map and key as separate args"); later releases (0.27 seen)
 *   warn that the old `delete(@map[key])` is deprecated. Older releases know only the old form
 *   (0.21 read `delete(@a, @b)` as two maps). So: the new form from 0.22 on, the old one before.
 * - Keys by thread: bpftrace 0.23 (seen: 0.23.2, Debian 13) adds a key to a count() or hist() map
 *   with BPF_NOEXIST after a lookup that missed (its IR, `--emit-llvm`). When two CPUs add the same
 *   key at once, the second update fails with EEXIST and its count is lost: bpftrace#4068 ("WARNING:
 *   File exists ... map_update_elem, retcode: -17", "ever since 0.23"), fixed by bpftrace#4074
 *   (BPF_ANY), in 0.27 seen. Our copies start empty every interval, so every key is added again
 *   each interval, by every vCPU thread of a VM at once: the compatibility matrix lost one page
 *   fault in a CI run, and scripts/stress-stop.mjs --threads 2 --codes 64 loses counts within a few
 *   trials. A key only one thread writes cannot be raced (a thread runs one program at a time), so
 *   on those releases every counting map is keyed by thread too, and the readers add the threads
 *   up (src/collector/thread-keys.ts). 0.17 reads, adds and updates with BPF_ANY: no race. The
 *   in-place increment came with bpftrace PR #2795 (0.20); from 0.20 to 0.23 is assumed racy.
 */
import type { Capabilities } from './capabilities.js';

export interface ProgramDialect {
  /** Define u8..s64 at the top (kernel without BTF for the kvm module). */
  kernelTypes: boolean;
  /** delete(@map, key) instead of delete(@map[key]). */
  deleteWithKey: boolean;
  /** Every counting map keyed by thread too: this bpftrace loses a count when two CPUs add one key at once. */
  threadKeys: boolean;
}

/** The dialect of the programs checked in as probes/*.bt and of tests: every bpftrace from 0.17 reads it. */
export const PORTABLE_DIALECT: ProgramDialect = { kernelTypes: false, deleteWithKey: false, threadKeys: false };

/** The first bpftrace release with delete(@map, key). */
export const DELETE_WITH_KEY_SINCE = { major: 0, minor: 22 } as const;

/** Release v is w or later. */
const atLeast = (v: { major: number; minor: number }, w: { major: number; minor: number }): boolean => v.major > w.major || (v.major === w.major && v.minor >= w.minor);

export function supportsDeleteWithKey(v: { major: number; minor: number } | undefined): boolean {
  return v !== undefined && atLeast(v, DELETE_WITH_KEY_SINCE);
}

/** The bpftrace releases whose count() and hist() add a new key with BPF_NOEXIST: from (assumed) until (fixed). */
export const RACY_FIRST_INSERT = { since: { major: 0, minor: 20 }, until: { major: 0, minor: 24 } } as const;

export function hasRacyFirstInsert(v: { major: number; minor: number } | undefined): boolean {
  if (!v) return false;
  return atLeast(v, RACY_FIRST_INSERT.since) && !atLeast(v, RACY_FIRST_INSERT.until);
}

/** The kernel's fixed-width integer types (include/asm-generic/int-ll64.h on x86-64), by name. */
export const KERNEL_INT_TYPES: readonly (readonly [string, string])[] = [
  ['u8', 'unsigned char'],
  ['s8', 'signed char'],
  ['u16', 'unsigned short'],
  ['s16', 'short'],
  ['u32', 'unsigned int'],
  ['s32', 'int'],
  ['u64', 'unsigned long long'],
  ['s64', 'long long'],
];

/**
 * The lines that define them: C preprocessor defines, which bpftrace hands to clang ahead of the
 * tracepoint structs (a `typedef` is not bpftrace syntax; `#define` is, and was seen to work on 5.10
 * with bpftrace 0.17). The program's own code never uses these names.
 */
export function kernelTypeLines(): string[] {
  return KERNEL_INT_TYPES.map(([name, type]) => `#define ${name} ${type}`);
}

export function dialectFor(caps: Pick<Capabilities, 'bpftrace' | 'kvmLoaded' | 'kvmModuleBtf'>): ProgramDialect {
  return {
    // only when kvm is there to be read and its BTF is not (unknown: the files were not looked at)
    kernelTypes: caps.kvmLoaded && caps.kvmModuleBtf === false,
    deleteWithKey: supportsDeleteWithKey(caps.bpftrace),
    threadKeys: hasRacyFirstInsert(caps.bpftrace),
  };
}

/** One map entry's delete statement (without the semicolon), in the dialect's form. */
export function deleteEntry(map: string, key: string, d: Pick<ProgramDialect, 'deleteWithKey'>): string {
  return d.deleteWithKey ? `delete(${map}, ${key})` : `delete(${map}[${key}])`;
}
