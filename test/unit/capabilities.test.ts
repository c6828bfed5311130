import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blocking, detectCapabilities, parseBpftraceVersion, parseFormatFields, probeableHandlers } from '../../src/probes/capabilities.js';

const FIX = join(import.meta.dirname, '../fixtures/tracefs');
const read = (f: string): string => readFileSync(join(FIX, f), 'utf8');

describe('parsers', () => {
  it('reads the 6.1 tracepoint fields from real format files', () => {
    expect(parseFormatFields(read('kvm_exit.format'))).toEqual(['exit_reason', 'guest_rip', 'isa', 'info1', 'info2', 'intr_info', 'error_code', 'vcpu_id']);
    expect(parseFormatFields(read('kvm_entry.format'))).toEqual(['vcpu_id', 'rip', 'immediate_exit']);
    expect(parseFormatFields(read('kvm_page_fault.format'))).toEqual(['vcpu_id', 'guest_rip', 'fault_address', 'error_code']);
  });

  it('reads bpftrace versions', () => {
    expect(parseBpftraceVersion('bpftrace v0.17.0\n')).toEqual({ version: '0.17.0', major: 0, minor: 17 });
    expect(parseBpftraceVersion('bpftrace v0.21.2-1-gabcdef')).toMatchObject({ major: 0, minor: 21 });
    expect(parseBpftraceVersion('nothing')).toBeUndefined();
  });

  it('picks one TDP handler and every shadow handler present (real available_filter_functions)', () => {
    expect(probeableHandlers(read('available_filter_functions.kvm'))).toEqual(['kvm_tdp_page_fault', 'paging64_page_fault', 'paging32_page_fault', 'nonpaging_page_fault', 'ept_page_fault']);
    // a <= 5.5 kernel names it tdp_page_fault
    expect(probeableHandlers('tdp_page_fault [kvm]\npaging64_page_fault [kvm]\n')).toEqual(['tdp_page_fault', 'paging64_page_fault']);
    expect(probeableHandlers('')).toEqual([]);
  });
});

/** A fake /sys and /proc: KVM with or without tracepoints, kprobes on or off. */
function fakeSys(o: { kvm: boolean; tracepoints: boolean; kprobes: boolean; npt?: string }): { sys: string; proc: string } {
  const sys = mkdtempSync(join(tmpdir(), 'sys-'));
  const proc = mkdtempSync(join(tmpdir(), 'proc-'));
  mkdirSync(join(proc, 'sys/kernel'), { recursive: true });
  writeFileSync(join(proc, 'sys/kernel/osrelease'), '6.1.0-test\n');
  const tracing = join(sys, 'kernel/tracing');
  mkdirSync(join(tracing, 'events'), { recursive: true });
  if (o.kvm) {
    mkdirSync(join(sys, 'module/kvm'), { recursive: true });
    mkdirSync(join(sys, 'module/kvm_amd/parameters'), { recursive: true });
    writeFileSync(join(sys, 'module/kvm_amd/parameters/npt'), `${o.npt ?? 'Y'}\n`);
  }
  if (o.tracepoints)
    for (const tp of ['kvm_exit', 'kvm_entry', 'kvm_page_fault']) {
      mkdirSync(join(tracing, 'events/kvm', tp), { recursive: true });
      writeFileSync(join(tracing, 'events/kvm', tp, 'format'), read(`${tp}.format`));
    }
  if (o.kprobes) {
    writeFileSync(join(tracing, 'kprobe_events'), '');
    writeFileSync(join(tracing, 'available_filter_functions'), read('available_filter_functions.kvm'));
  }
  return { sys, proc };
}

describe('detectCapabilities', () => {
  const bpftracePath = '/nonexistent/bpftrace'; // does not run: bpftrace counts as missing

  it('a KVM host with everything: nothing blocks, handlers chosen', async () => {
    const c = await detectCapabilities({ ...fakeSys({ kvm: true, tracepoints: true, kprobes: true }), uid: 0, bpftracePath: '/usr/bin/bpftrace' });
    expect(c.vendor).toBe('amd');
    expect(c.tdp).toBe(true);
    expect(c.kernel).toBe('6.1.0-test');
    expect(c.handlers[0]).toBe('kvm_tdp_page_fault');
    expect(c.bpftrace?.version).toMatch(/^0\.\d+/);
    expect(blocking(c)).toBeUndefined();
  });

  it('npt=0 is read as nested paging off', async () => {
    const c = await detectCapabilities({ ...fakeSys({ kvm: true, tracepoints: true, kprobes: true, npt: '0' }), uid: 0, bpftracePath: '/usr/bin/bpftrace' });
    expect(c.tdp).toBe(false);
  });

  it('no kprobes: degraded, not blocked, and says why', async () => {
    const c = await detectCapabilities({ ...fakeSys({ kvm: true, tracepoints: true, kprobes: false }), uid: 0, bpftracePath: '/usr/bin/bpftrace' });
    expect(c.handlers).toEqual([]);
    expect(blocking(c)).toBeUndefined();
    expect(c.checks.find((k) => k.name.startsWith('page-fault handlers'))?.detail).toMatch(/kprobes are not available/);
  });

  it.each([
    [{ kvm: false, tracepoints: false, kprobes: false }, 0, '/usr/bin/bpftrace', 'kvm'],
    [{ kvm: true, tracepoints: false, kprobes: false }, 0, '/usr/bin/bpftrace', 'tracepoint kvm:kvm_exit'],
    [{ kvm: true, tracepoints: true, kprobes: true }, 1000, '/usr/bin/bpftrace', 'root'],
    [{ kvm: true, tracepoints: true, kprobes: true }, 0, bpftracePath, 'bpftrace'],
  ] as const)('blocks with a fix: %j uid %d -> %s', async (sys, uid, bp, check) => {
    const c = await detectCapabilities({ ...fakeSys(sys), uid, bpftracePath: bp });
    const b = blocking(c);
    expect(b?.name).toBe(check);
    expect(b?.fix?.length).toBeGreaterThan(5);
  });
});
