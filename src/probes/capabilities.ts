/**
 * What this machine can trace, found at start: bpftrace and its version, the
 * kvm tracepoints and their fields (read from tracefs, never assumed), the KVM
 * vendor module and its nested-paging setting, which page-fault handlers can be
 * probed, BTF, root. `exitscope doctor` prints it; the program builder obeys it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UserError } from '../errors.js';
import { which } from '../lab/preflight.js';

const run = promisify(execFile);

export { HANDLERS } from './handlers.js';
import { HANDLERS } from './handlers.js';
import { parentDeathCheck } from '../process/parent-death.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when not ok. */
  fix?: string;
  /** Required checks stop exitscope; optional ones only remove a panel. */
  required: boolean;
}

export interface Capabilities {
  root: boolean;
  bpftrace?: { path: string; version: string; major: number; minor: number };
  tracefs?: string;
  /** Field names of each kvm tracepoint, from its format file. */
  tracepoints: Record<'kvm_exit' | 'kvm_entry' | 'kvm_page_fault', string[] | undefined>;
  kvmLoaded: boolean;
  vendor?: 'amd' | 'intel';
  /** NPT (AMD) / EPT (Intel) enabled in the vendor module. */
  tdp?: boolean;
  kprobes: boolean;
  btf: boolean;
  /**
   * BTF for the kvm module (/sys/kernel/btf/kvm): kernels before 5.11 have none, and bpftrace then
   * cannot type the kvm tracepoints' fields without help (dialect.ts). Undefined: not looked at.
   */
  kvmModuleBtf?: boolean;
  /** Handlers that exist and can be probed here (kprobes present and symbol in available_filter_functions). */
  handlers: string[];
  kernel: string;
  checks: Check[];
}

/** "bpftrace v0.17.0" -> {version, major, minor}. */
export function parseBpftraceVersion(text: string): { version: string; major: number; minor: number } | undefined {
  const m = /v?(\d+)\.(\d+)(\.\d+)?/.exec(text);
  if (!m) return undefined;
  return { version: m[0].replace(/^v/, ''), major: Number(m[1]), minor: Number(m[2]) };
}

/** Field names from a tracefs format file ("field:unsigned int exit_reason; offset:..."), common_* left out. */
export function parseFormatFields(text: string): string[] {
  const fields: string[] = [];
  for (const m of text.matchAll(/field:([^;]+);/g)) {
    const decl = (m[1] ?? '').trim().replace(/\[.*\]$/, '');
    const name = decl.split(/\s+/).pop()?.replace(/^\*+/, '');
    if (name && !name.startsWith('common_')) fields.push(name);
  }
  return fields;
}

/** Handler names present in available_filter_functions ("name [module]" per line). */
export function probeableHandlers(availableFilterFunctions: string): string[] {
  const present = new Set<string>();
  const wanted = new Set<string>([...HANDLERS.tdp, ...HANDLERS.shadow]);
  for (const line of availableFilterFunctions.split('\n')) {
    const name = line.split(/\s/)[0] ?? '';
    if (wanted.has(name)) present.add(name);
  }
  // one TDP handler (the first that exists), all shadow ones that exist
  const tdp = HANDLERS.tdp.find((h) => present.has(h));
  return [...(tdp ? [tdp] : []), ...HANDLERS.shadow.filter((h) => present.has(h))];
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export interface DetectOptions {
  /** Root of /sys and /proc, for tests. */
  sys?: string;
  proc?: string;
  uid?: number;
  bpftracePath?: string;
}

export async function detectCapabilities(o: DetectOptions = {}): Promise<Capabilities> {
  const sys = o.sys ?? '/sys';
  const proc = o.proc ?? '/proc';
  const checks: Check[] = [];
  const root = (o.uid ?? process.getuid?.() ?? 0) === 0;
  checks.push({ name: 'root', ok: root, required: true, detail: root ? 'running as root' : 'not root', fix: 'run exitscope as root (sudo): bpftrace needs CAP_BPF and CAP_PERFMON' });

  const bpftracePath = o.bpftracePath ?? which('bpftrace');
  let bpftrace: Capabilities['bpftrace'];
  if (bpftracePath) {
    const out = await run(bpftracePath, ['--version']).then((r) => r.stdout, () => '');
    const v = parseBpftraceVersion(out);
    if (v) bpftrace = { path: bpftracePath, ...v };
  }
  checks.push({
    name: 'bpftrace',
    ok: bpftrace !== undefined,
    required: true,
    detail: bpftrace ? `bpftrace ${bpftrace.version} (${bpftrace.path})` : 'bpftrace not found on PATH',
    fix: 'apt-get install bpftrace (0.17 or later)',
  });

  const tracefs = [join(sys, 'kernel/tracing'), join(sys, 'kernel/debug/tracing')].find((p) => existsSync(join(p, 'events')));
  checks.push({ name: 'tracefs', ok: tracefs !== undefined, required: true, detail: tracefs ?? 'tracefs is not mounted', fix: 'mount -t tracefs nodev /sys/kernel/tracing' });

  const kvmLoaded = existsSync(join(sys, 'module/kvm'));
  const vendor = existsSync(join(sys, 'module/kvm_amd')) ? 'amd' : existsSync(join(sys, 'module/kvm_intel')) ? 'intel' : undefined;
  checks.push({
    name: 'kvm',
    ok: kvmLoaded && vendor !== undefined,
    required: true,
    detail: kvmLoaded ? `kvm loaded${vendor ? `, kvm_${vendor}` : ', but neither kvm_amd nor kvm_intel'}` : 'the kvm module is not loaded',
    fix: 'modprobe kvm_amd (or kvm_intel); on a machine without KVM, use the lab: exitscope lab --run "exitscope ..."',
  });
  let tdp: boolean | undefined;
  if (vendor) {
    const v = read(join(sys, 'module', `kvm_${vendor}`, 'parameters', vendor === 'amd' ? 'npt' : 'ept'))?.trim();
    if (v !== undefined) tdp = v === 'Y' || v === '1';
  }

  const tracepoints: Capabilities['tracepoints'] = { kvm_exit: undefined, kvm_entry: undefined, kvm_page_fault: undefined };
  for (const tp of ['kvm_exit', 'kvm_entry', 'kvm_page_fault'] as const) {
    const fmt = tracefs ? read(join(tracefs, 'events/kvm', tp, 'format')) : undefined;
    tracepoints[tp] = fmt ? parseFormatFields(fmt) : undefined;
  }
  const exitOk = ['exit_reason', 'isa'].every((f) => tracepoints.kvm_exit?.includes(f));
  checks.push({
    name: 'tracepoint kvm:kvm_exit',
    ok: exitOk,
    required: true,
    detail: tracepoints.kvm_exit ? `fields: ${tracepoints.kvm_exit.join(', ')}` : 'missing',
    fix: kvmLoaded ? 'a kernel with CONFIG_KVM tracepoints (every distribution kernel has them)' : 'load kvm first (see "kvm")',
  });
  checks.push({ name: 'tracepoint kvm:kvm_entry', ok: tracepoints.kvm_entry !== undefined, required: false, detail: tracepoints.kvm_entry ? 'present: exit-handling latency' : 'missing: no latency', fix: 'load kvm' });
  checks.push({
    name: 'tracepoint kvm:kvm_page_fault',
    ok: ['fault_address', 'error_code'].every((f) => tracepoints.kvm_page_fault?.includes(f)),
    required: false,
    detail: tracepoints.kvm_page_fault ? `fields: ${tracepoints.kvm_page_fault.join(', ')}` : 'missing: no page-fault panel',
    fix: 'load kvm',
  });

  const kprobes = tracefs !== undefined && existsSync(join(tracefs, 'kprobe_events'));
  const aff = tracefs && kprobes ? read(join(tracefs, 'available_filter_functions')) : undefined;
  const handlers = aff ? probeableHandlers(aff) : [];
  checks.push({
    name: 'page-fault handlers (kprobes)',
    ok: handlers.length > 0,
    required: false,
    detail: !kprobes
      ? 'kprobes are not available (CONFIG_KPROBES/KPROBE_EVENTS off): no handler count or latency'
      : handlers.length
        ? `probing ${handlers.join(', ')}`
        : 'none of the known handlers is probeable (kvm not loaded, or the names changed)',
    fix: 'a kernel with CONFIG_KPROBES=y (distribution kernels have it)',
  });
  const btf = existsSync(join(sys, 'kernel/btf/vmlinux'));
  const kvmModuleBtf = existsSync(join(sys, 'kernel/btf/kvm'));
  const moduleNote = !kvmLoaded ? '' : kvmModuleBtf ? '; kvm module BTF present' : '; no BTF for the kvm module (kernel before 5.11?): the program defines u8..s64 itself';
  checks.push({ name: 'BTF', ok: btf, required: false, detail: `${btf ? '/sys/kernel/btf/vmlinux present' : 'no kernel BTF'}${moduleNote}`, fix: 'a kernel with CONFIG_DEBUG_INFO_BTF=y (needed by bpftrace 0.25+ for tracepoint args)' });

  // optional: without setpriv a SIGKILLed exitscope can leave bpftrace running (src/process/)
  checks.push(parentDeathCheck());

  const kernel = read(join(proc, 'sys/kernel/osrelease'))?.trim() ?? 'unknown';
  return { root, ...(bpftrace ? { bpftrace } : {}), ...(tracefs ? { tracefs } : {}), tracepoints, kvmLoaded, ...(vendor ? { vendor } : {}), ...(tdp !== undefined ? { tdp } : {}), kprobes, btf, kvmModuleBtf, handlers, kernel, checks };
}

/** The first required check that failed, if any. */
export function blocking(c: Capabilities): Check | undefined {
  return c.checks.find((k) => k.required && !k.ok);
}

/** The error for a check that stops tracing: code NO_<NAME> (docs/errors.md), its detail and its fix. */
export function blockingError(k: Check): UserError {
  return new UserError(`NO_${k.name.toUpperCase().replace(/[^A-Z]+/g, '_').replace(/_$/, '')}`, `${k.name}: ${k.detail}`, k.fix ?? 'see exitscope doctor');
}
