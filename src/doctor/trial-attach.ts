/**
 * doctor's last check: start the very program `top` would run (the Collector, with this
 * machine's capabilities) until bpftrace says every probe is attached, then stop it. The other
 * checks read files; only this one shows that bpftrace can compile and attach here (on 5.10, for
 * one, every file check passed and bpftrace still refused the program: no BTF for modules, which
 * the program now makes up for, probes/dialect.ts).
 */
import type { Check } from '../probes/capabilities.js';
import type { Capabilities } from '../probes/capabilities.js';
import { Collector } from '../collector/collector.js';
import { UserError } from '../errors.js';

export const TRIAL_NAME = 'trial attach';
/** Attaching takes a second or two on hardware, up to a minute under emulation on a busy host. */
export const TRIAL_TIMEOUT_MS = 180_000;

export interface TrialOptions {
  timeoutMs?: number;
  /** For tests: where /proc is (VM names). */
  proc?: string;
}

/** Runs the trial; never throws: a failure is a failed check with bpftrace's own words and a fix. */
export async function trialAttach(caps: Capabilities, o: TrialOptions = {}): Promise<Check> {
  const started = Date.now();
  let collector: Collector;
  try {
    collector = new Collector({ caps, intervalMs: 1000, maxRestarts: 0, onMessage: () => undefined, ...(o.proc ? { proc: o.proc } : {}) });
  } catch (e) {
    return failed(e);
  }
  const timeoutMs = o.timeoutMs ?? TRIAL_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UserError('BPFTRACE_FAILED', `bpftrace did not attach its probes within ${Math.round(timeoutMs / 1000)} s`, 'run `exitscope top -v` to see what bpftrace prints while it starts')), timeoutMs);
  });
  try {
    await Promise.race([collector.start(), timedOut]);
    const ms = Date.now() - started;
    return { name: TRIAL_NAME, ok: true, required: true, detail: `bpftrace compiled and attached the program top runs in ${(ms / 1000).toFixed(1)} s` };
  } catch (e) {
    return failed(e);
  } finally {
    clearTimeout(timer);
    await collector.stop().catch(() => undefined);
  }
}

/** bpftrace's messages that have a better fix than the generic one. */
const KNOWN_FAILURES: { pattern: RegExp; fix: string }[] = [
  {
    // kernels before 5.11 have no BTF for modules: the kvm tracepoints' structs use u32/u64 that clang cannot resolve
    pattern: /unknown type name '(u32|u64|u8|u16)'/,
    // exitscope defines them itself where /sys/kernel/btf/kvm is missing (probes/dialect.ts): seeing this
    // means that check said BTF was there, or another type is missing
    fix: 'bpftrace could not type the kvm tracepoints (no BTF for the kvm module, kernels before 5.11); exitscope defines u8..s64 itself when /sys/kernel/btf/kvm is missing: check that sysfs shows /sys/kernel/btf and report the missing type name, or use a kernel of 5.11 or later',
  },
];

function failed(e: unknown): Check {
  const message = (e as Error).message;
  const known = KNOWN_FAILURES.find((k) => k.pattern.test(message));
  const fix = known?.fix ?? (e instanceof UserError ? e.fix : undefined);
  return { name: TRIAL_NAME, ok: false, required: true, detail: message, fix: fix ?? 'run `exitscope top -v` and report bpftrace\'s message' };
}
