/**
 * Label values of the metrics, from the stream's numbers: the decoding tables the report and the
 * dashboard use (no second naming). Each decoding is cached: a host has a few hundred distinct
 * reasons and fault codes, seen every interval.
 */
import { decodeExitReason, isaName, ISA_SVM, ISA_VMX } from '../model/exit-reasons.js';
import { decodeFault } from '../model/page-fault-bits.js';
import type { HelloMessage } from '../protocol/messages.js';

export interface ReasonLabels {
  /** The decoded name (IOIO, EPT_VIOLATION), or the basic reason's number when the table has none. */
  reason: string;
  /** svm | vmx (isaN for an ISA kvm_exit does not define). */
  isa: string;
  /** The key exits are summed by: isa and basic reason (VMX's failed-entry bit dropped, as the report does). */
  key: number;
}

const reasonCache = new Map<number, ReasonLabels>();

/** Labels of kvm_exit's (isa, exit_reason). */
export function reasonLabels(isa: number, raw: number): ReasonLabels {
  // isa is 1 or 2 (a few bits), raw a u32: one safe integer
  const rawKey = isa * 2 ** 32 + raw;
  let l = reasonCache.get(rawKey);
  if (!l) {
    const d = decodeExitReason(isa, raw);
    l = { reason: d.known ? d.name : String(d.reason), isa: isaName(isa), key: isa * 2 ** 32 + d.reason };
    reasonCache.set(rawKey, l);
  }
  return l;
}

export interface FaultLabels {
  access: 'read' | 'write' | 'fetch';
  present: 'true' | 'false';
  mmio: 'true' | 'false';
}

/** The ISA a host's page-fault error codes are written in (kvm_page_fault has no isa field; as the report). */
export function faultIsa(vendor: HelloMessage['vendor'] | undefined): number {
  return vendor === 'intel' ? ISA_VMX : ISA_SVM;
}

const faultCache = new Map<string, FaultLabels>();

/** Labels of kvm_page_fault's error code, decoded by src/model/page-fault-bits.ts. */
export function faultLabels(isa: number, code: number, tdp?: boolean | null): FaultLabels {
  const k = `${isa},${tdp},${code}`;
  let l = faultCache.get(k);
  if (!l) {
    const d = decodeFault(isa, BigInt(code), tdp);
    l = { access: d.access, present: d.present ? 'true' : 'false', mmio: d.mmio ? 'true' : 'false' };
    faultCache.set(k, l);
  }
  return l;
}

/** A handler's name from the hello's list (snapshot `handlers[].h` is its index), or the index. */
export function handlerLabel(hello: HelloMessage | undefined, h: number): string {
  return hello?.handlers[h] ?? String(h);
}

/** A vCPU thread's index as a label; threads KVM has not named "CPU N/KVM" are `unknown`. */
export function vcpuLabel(vcpus: Readonly<Record<string, number>>, tid: number): string {
  const v = vcpus[String(tid)];
  return v === undefined ? 'unknown' : String(v);
}

/** The VM label of a pid the stream never named (its process was gone before /proc could be read): the dashboard's. */
export function unnamedVm(pid: number): string {
  return `pid ${pid}`;
}
