/**
 * A gate's verdict: each rule of --fail-on checked against the comparison of the baseline (BASE)
 * and this run (NEW), read from the diff model (src/diff/compare.ts). Pure.
 */
import { type BoundChange, type Change, change, type ReportDiff } from '../diff/compare.js';
import { formatNs } from '../report/histogram.js';
import type { GateRule } from './spec.js';

export interface RuleResult {
  rule: string;
  passed: boolean;
  /** the measured value on each side; null where it could not be measured */
  base: number | null;
  next: number | null;
  /** NEW above (or, for a drop, below) this breaks the rule; null when unmeasured */
  limit: number | null;
  /** one line: what was compared and why it passed or broke */
  detail: string;
}

export interface GateVerdict {
  passed: boolean;
  broken: number;
  results: RuleResult[];
}

const subjectName = (r: GateRule): string => {
  const s = r.subject;
  return s.kind === 'reason' ? s.name : s.kind === 'reason-number' ? `reason ${s.reason}` : s.kind;
};

/** The rows of the diff a rule reads: counts (and latency bounds) of its subject on both sides. */
function measured(rule: GateRule, d: ReportDiff): { count: Change; p50?: BoundChange; p99?: BoundChange } {
  const s = rule.subject;
  switch (s.kind) {
    case 'total':
      return { count: d.total.count };
    case 'lost':
      return { count: d.lostEvents };
    case 'gaps':
      return { count: d.gaps };
    case 'faults':
      return { count: d.pageFaults.count };
    case 'mmio':
      return { count: d.pageFaults.mmio };
    case 'reason':
    case 'reason-number': {
      // a reason absent on both sides is a row of zeros, not an error: nothing of it happened
      const rows = d.exits.filter((e) => (s.kind === 'reason' ? e.name === s.name : e.reason === s.reason));
      if (rows.length === 0) return { count: change(0, 0), p50: { base: null, next: null }, p99: { base: null, next: null } };
      const sum = (side: 'base' | 'next'): number => rows.reduce((a, e) => a + e.count[side], 0);
      const worst = (which: 'p50Ns' | 'p99Ns', side: 'base' | 'next'): number | null => rows.reduce<number | null>((a, e) => (e[which][side] === null ? a : Math.max(a ?? 0, e[which][side] as number)), null);
      return { count: change(sum('base'), sum('next')), p50: { base: worst('p50Ns', 'base'), next: worst('p50Ns', 'next') }, p99: { base: worst('p99Ns', 'base'), next: worst('p99Ns', 'next') } };
    }
  }
}

/** The value a rule compares on one side: a count, a rate, or a latency bound (0 when nothing happened). */
function values(rule: GateRule, d: ReportDiff): { base: number | null; next: number | null } {
  const m = measured(rule, d);
  if (rule.measure === 'count') return { base: m.count.base, next: m.count.next };
  if (rule.measure === 'rate') {
    const per = (n: number, s: number): number | null => (s > 0 ? n / s : null);
    return { base: per(m.count.base, d.base.durationSeconds), next: per(m.count.next, d.next.durationSeconds) };
  }
  const b = (rule.measure === 'p50' ? m.p50 : m.p99) as BoundChange;
  // no exits of the reason: no latency to speak of (0); exits but no bound: not measured (--no-latency)
  const side = (which: 'base' | 'next'): number | null => (b[which] !== null ? b[which] : m.count[which] === 0 ? 0 : null);
  return { base: side('base'), next: side('next') };
}

function limitOf(rule: GateRule, base: number): number {
  switch (rule.limit) {
    case 'relative-up':
      return base * (1 + rule.value / 100);
    case 'relative-down':
      return base * (1 - rule.value / 100);
    case 'absolute-up':
      return base + rule.value;
    case 'above':
      return rule.value;
  }
}

const show = (rule: GateRule, x: number): string => (rule.measure === 'p50' || rule.measure === 'p99' ? formatNs(Math.round(x)) : rule.measure === 'rate' ? `${x >= 100 ? x.toFixed(0) : x.toFixed(2)}/s` : Number.isInteger(x) ? String(x) : x.toFixed(2));

export function evaluateRule(rule: GateRule, d: ReportDiff): RuleResult {
  const what = `${rule.measure === 'count' ? '' : `${rule.measure} `}${subjectName(rule)}`;
  const { base, next } = values(rule, d);
  const needsBase = rule.limit !== 'above';
  if (next === null || (needsBase && base === null)) {
    const missing = next === null ? 'NEW' : 'BASE';
    const why = rule.measure === 'rate' ? 'its duration is 0' : 'it has exits but no latency (recorded with --no-latency?)';
    return { rule: rule.text, passed: false, base, next, limit: null, detail: `broken: ${what} cannot be measured in ${missing}: ${why}` };
  }
  const limit = limitOf(rule, base ?? 0);
  const passed = rule.limit === 'relative-down' ? !(next < limit) : !(next > limit);
  const relation = rule.limit === 'relative-down' ? (passed ? '>=' : '<') : passed ? '<=' : '>';
  const against = needsBase ? ` (BASE ${show(rule, base as number)}${rule.limit === 'absolute-up' ? '' : `, ${rule.limit === 'relative-up' ? '+' : '-'}${rule.value}%`})` : '';
  return { rule: rule.text, passed, base, next, limit, detail: `${passed ? 'ok' : 'broken'}: ${what} ${show(rule, next)} in NEW ${relation} limit ${show(rule, limit)}${against}` };
}

export function evaluateGate(rules: readonly GateRule[], d: ReportDiff): GateVerdict {
  const results = rules.map((r) => evaluateRule(r, d));
  const broken = results.filter((r) => !r.passed).length;
  return { passed: broken === 0, broken, results };
}
