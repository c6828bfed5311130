/**
 * `--fail-on SPEC`: the rules a CI gate checks, comma-separated (the option is repeatable too).
 *
 *   RULE    := METRIC ':' LIMIT
 *   METRIC  := total | lost | gaps | faults | mmio | REASON          counts of the whole run
 *            | rate(total | faults | mmio | REASON)                  per second of the run
 *            | p50(REASON) | p99(REASON)                            latency (log2-bucket upper bounds)
 *   REASON  := an exit-reason name (NPF, EXCP_PF, IOIO, EPT_VIOLATION, ...) or number (78, 0x4e)
 *   LIMIT   := +N%    broken when NEW > BASE * (1 + N/100)   (from BASE 0: when NEW > 0)
 *            | -N%    broken when NEW < BASE * (1 - N/100)   (a drop: throughput, say)
 *            | +N     broken when NEW > BASE + N
 *            | >N     broken when NEW > N                    (NEW alone)
 *   N       := a number; for p50/p99 it may end in ns, us, ms or s (default ns)
 *
 * Parsed once, before anything is traced, so a typo fails the job at once (BAD_FAIL_ON).
 */
import { UserError } from '../errors.js';
import { SVM_EXIT_REASONS, VMX_EXIT_REASONS } from '../model/exit-reasons.js';

export type Measure = 'count' | 'rate' | 'p50' | 'p99';
export type Subject = { kind: 'total' | 'lost' | 'gaps' | 'faults' | 'mmio' } | { kind: 'reason'; name: string } | { kind: 'reason-number'; reason: number };
export type LimitKind = 'relative-up' | 'relative-down' | 'absolute-up' | 'above';

export interface GateRule {
  /** The rule as written, without spaces: for summaries and JUnit test names. */
  text: string;
  measure: Measure;
  subject: Subject;
  limit: LimitKind;
  /** percent for relative limits; a count, rate or nanoseconds otherwise */
  value: number;
}

const FIX = "rules look like total:+20%, NPF:+50%, EXCP_PF:>0, rate(IOIO):+30%, p99(IOIO):+100%, p99(HLT):>10ms, lost:>0 (docs/ci.md); several: --fail-on 'A,B' or --fail-on A --fail-on B";
const bad = (rule: string, why: string): UserError => new UserError('BAD_FAIL_ON', `--fail-on '${rule}': ${why}`, FIX);

const KNOWN_NAMES = new Set([...SVM_EXIT_REASONS.values(), ...VMX_EXIT_REASONS.values()]);
const COUNTERS = ['total', 'lost', 'gaps', 'faults', 'mmio'] as const;
const RATED = new Set(['total', 'faults', 'mmio']);
const UNIT_NS: Record<string, number> = { ns: 1, us: 1_000, ms: 1_000_000, s: 1_000_000_000 };

function parseSubject(rule: string, word: string): Subject {
  const lower = word.toLowerCase();
  if ((COUNTERS as readonly string[]).includes(lower)) return { kind: lower as (typeof COUNTERS)[number] };
  if (/^(0x[0-9a-f]+|\d+)$/i.test(word)) {
    const reason = Number(word);
    if (!Number.isSafeInteger(reason) || reason > 0xffffffff) throw bad(rule, `exit reason ${word} is out of range`);
    return { kind: 'reason-number', reason };
  }
  const name = word.toUpperCase();
  if (KNOWN_NAMES.has(name)) return { kind: 'reason', name };
  throw bad(rule, `'${word}' is not ${COUNTERS.join(', ')}, nor an exit-reason name or number (e.g. NPF, EXCP_PF, IOIO, HLT, EPT_VIOLATION, 0x4e)`);
}

function parseMetric(rule: string, metric: string): { measure: Measure; subject: Subject } {
  const call = /^(rate|p50|p99)\((.*)\)$/i.exec(metric);
  if (!call) {
    if (/[()]/.test(metric)) throw bad(rule, `'${metric}' is not a metric: the functions are rate(X), p50(X) and p99(X)`);
    if (metric === '') throw bad(rule, 'no metric before the colon');
    return { measure: 'count', subject: parseSubject(rule, metric) };
  }
  const measure = (call[1] as string).toLowerCase() as Measure;
  const inner = (call[2] as string).trim();
  if (inner === '') throw bad(rule, `${measure}() needs an exit reason${measure === 'rate' ? ', total, faults or mmio' : ''}`);
  const subject = parseSubject(rule, inner);
  if (measure === 'rate' && (subject.kind === 'lost' || subject.kind === 'gaps')) throw bad(rule, `rate(${inner}) is not measured: lost and gaps are counts`);
  if (measure !== 'rate' && subject.kind !== 'reason' && subject.kind !== 'reason-number') throw bad(rule, `${measure}(${inner}): latency is measured per exit reason, e.g. ${measure}(IOIO)`);
  if (measure === 'rate' && subject.kind !== 'reason' && subject.kind !== 'reason-number' && !RATED.has(subject.kind)) throw bad(rule, `rate(${inner}) is not measured`);
  return { measure, subject };
}

function parseLimit(rule: string, limit: string, measure: Measure): { limit: LimitKind; value: number } {
  const m = /^([+\->])\s*(\d+(?:\.\d+)?)\s*(%|ns|us|ms|s)?$/i.exec(limit);
  if (!m) throw bad(rule, `'${limit}' is not a limit: +N% (a rise), -N% (a drop), +N (a rise by N) or >N (above N)`);
  const sign = m[1] as string;
  const value = Number(m[2]);
  const unit = (m[3] ?? '').toLowerCase();
  if (unit === '%') {
    if (sign === '>') throw bad(rule, `>N% is not a limit: a share is not gated; use +N% for a rise against the baseline`);
    if (sign === '-' && value >= 100) throw bad(rule, `-${value}% would need NEW below zero: a drop limit is under 100%`);
    return { limit: sign === '+' ? 'relative-up' : 'relative-down', value };
  }
  if (sign === '-') throw bad(rule, `-N without % is not a limit: use -N% for a drop`);
  if (unit !== '' && measure !== 'p50' && measure !== 'p99') throw bad(rule, `a time unit (${unit}) fits p50() and p99() only`);
  return { limit: sign === '+' ? 'absolute-up' : 'above', value: value * (UNIT_NS[unit] ?? 1) };
}

export function parseRule(text: string): GateRule {
  // spaces mean nothing in a rule; without them its text is one token for summaries and JUnit
  const rule = text.replace(/\s+/g, '');
  if (rule === '') throw bad(text, 'an empty rule');
  const colon = rule.lastIndexOf(':');
  if (colon < 0) throw bad(rule, 'no colon: a rule is METRIC:LIMIT');
  const { measure, subject } = parseMetric(rule, rule.slice(0, colon).trim());
  return { text: rule, measure, subject, ...parseLimit(rule, rule.slice(colon + 1).trim(), measure) };
}

/** Every rule of one or more --fail-on values (each comma-separated). */
export function parseFailOn(specs: readonly string[]): GateRule[] {
  const rules = specs.flatMap((s) => s.split(',')).map(parseRule);
  if (rules.length === 0) throw bad('', 'no rule');
  return rules;
}
