/**
 * The CI gate: --fail-on SPEC parsing (every form, and bad input with clear errors), rules
 * evaluated on the real npt on/off recordings, the markdown summary and the JUnit file (read
 * back by an independent strict parser and xmllint).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareReports } from '../../src/diff/compare.js';
import { loadSide } from '../../src/diff/load-side.js';
import { isUserError } from '../../src/errors.js';
import { evaluateGate, evaluateRule } from '../../src/gate/evaluate.js';
import { gateJunit, xmlText } from '../../src/gate/junit.js';
import { parseFailOn, parseRule } from '../../src/gate/spec.js';
import { gateSummaryMarkdown } from '../../src/gate/summary-markdown.js';
import { hasXmllint, readJunit, xmllint } from './support/junit-check.js';

const FIX = join(import.meta.dirname, '../fixtures/recordings');
const on = loadSide(join(FIX, 'run-npf-1031-npt-on.jsonl')).report;
const off = loadSide(join(FIX, 'run-npf-1031-npt-off.jsonl')).report;
const onToOff = compareReports(on, off, { baseLabel: 'on', nextLabel: 'off' });
const onToOn = compareReports(on, on, { baseLabel: 'on', nextLabel: 'on' });

describe('--fail-on SPEC: every form', () => {
  it.each([
    ['total:+20%', { measure: 'count', subject: { kind: 'total' }, limit: 'relative-up', value: 20 }],
    ['NPF:+50%', { measure: 'count', subject: { kind: 'reason', name: 'NPF' }, limit: 'relative-up', value: 50 }],
    ['excp_pf:>0', { measure: 'count', subject: { kind: 'reason', name: 'EXCP_PF' }, limit: 'above', value: 0 }],
    ['0x4e:>0', { measure: 'count', subject: { kind: 'reason-number', reason: 78 }, limit: 'above', value: 0 }],
    ['78:+10', { measure: 'count', subject: { kind: 'reason-number', reason: 78 }, limit: 'absolute-up', value: 10 }],
    ['EPT_VIOLATION:-25%', { measure: 'count', subject: { kind: 'reason', name: 'EPT_VIOLATION' }, limit: 'relative-down', value: 25 }],
    ['lost:>0', { measure: 'count', subject: { kind: 'lost' }, limit: 'above', value: 0 }],
    ['gaps:>0', { measure: 'count', subject: { kind: 'gaps' }, limit: 'above', value: 0 }],
    ['faults:+5%', { measure: 'count', subject: { kind: 'faults' }, limit: 'relative-up', value: 5 }],
    ['mmio:>100', { measure: 'count', subject: { kind: 'mmio' }, limit: 'above', value: 100 }],
    ['rate(total):+30%', { measure: 'rate', subject: { kind: 'total' }, limit: 'relative-up', value: 30 }],
    ['rate(IOIO):>1000', { measure: 'rate', subject: { kind: 'reason', name: 'IOIO' }, limit: 'above', value: 1000 }],
    ['rate(mmio):+2.5%', { measure: 'rate', subject: { kind: 'mmio' }, limit: 'relative-up', value: 2.5 }],
    ['p99(IOIO):+100%', { measure: 'p99', subject: { kind: 'reason', name: 'IOIO' }, limit: 'relative-up', value: 100 }],
    ['p50(HLT):>10ms', { measure: 'p50', subject: { kind: 'reason', name: 'HLT' }, limit: 'above', value: 10_000_000 }],
    ['p99(NPF):>250us', { measure: 'p99', subject: { kind: 'reason', name: 'NPF' }, limit: 'above', value: 250_000 }],
    ['p99(NPF):+1s', { measure: 'p99', subject: { kind: 'reason', name: 'NPF' }, limit: 'absolute-up', value: 1e9 }],
    ['p99(NPF):>500ns', { measure: 'p99', subject: { kind: 'reason', name: 'NPF' }, limit: 'above', value: 500 }],
    [' p99( IOIO ) : +100 % ', { text: 'p99(IOIO):+100%', measure: 'p99', limit: 'relative-up', value: 100 }],
  ])('%s', (text, expected) => {
    expect(parseRule(text)).toMatchObject(expected);
  });

  it('comma-separated and repeated: all rules, in order', () => {
    expect(parseFailOn(['total:+20%,EXCP_PF:>0', 'lost:>0']).map((r) => r.text)).toEqual(['total:+20%', 'EXCP_PF:>0', 'lost:>0']);
  });
});

describe('--fail-on SPEC: bad input is BAD_FAIL_ON saying why', () => {
  it.each([
    ['', /an empty rule/],
    ['total', /no colon/],
    [':>0', /no metric/],
    ['NPFX:>0', /'NPFX' is not total/],
    ['total:20%', /not a limit/],
    ['total:+%', /not a limit/],
    ['total:>5%', />N% is not a limit/],
    ['total:-5', /-N without %/],
    ['total:-100%', /under 100%/],
    ['total:>1ms', /time unit \(ms\) fits p50\(\) and p99\(\) only/],
    ['p99(total):>0', /latency is measured per exit reason/],
    ['p95(IOIO):>0', /functions are rate\(X\), p50\(X\) and p99\(X\)/],
    ['rate(lost):>0', /lost and gaps are counts/],
    ['rate():>0', /needs an exit reason/],
    ['0x1ffffffff:>0', /out of range/],
    ['total:+abc', /not a limit/],
  ])('%j', (text, why) => {
    try {
      parseFailOn([text]);
      expect.unreachable();
    } catch (e) {
      expect(isUserError(e) && e.code).toBe('BAD_FAIL_ON');
      expect((e as Error).message).toMatch(why);
      expect(isUserError(e) && e.fix).toContain('docs/ci.md');
    }
  });
});

describe('rules evaluated on npf 1031, nested paging on (BASE) and off (NEW)', () => {
  const r = (spec: string, d = onToOff) => evaluateRule(parseRule(spec), d);
  it('EXCP_PF:>0 breaks with NPT off, holds with NPT on', () => {
    expect(r('EXCP_PF:>0')).toMatchObject({ passed: false, base: 0, next: 1031, limit: 0 });
    expect(r('EXCP_PF:>0').detail).toBe('broken: EXCP_PF 1031 in NEW > limit 0');
    expect(r('EXCP_PF:>0', onToOn).passed).toBe(true);
    expect(r('78:>0').passed).toBe(false); // the same reason by number
  });
  it('relative limits: from BASE 0 any rise breaks +N%; NPF dropping to 0 breaks -N%', () => {
    expect(r('EXCP_PF:+1000%').passed).toBe(false);
    expect(r('NPF:+50%').passed).toBe(true);
    expect(r('NPF:-50%')).toMatchObject({ passed: false, base: 1031, next: 0, limit: 515.5 });
  });
  it('total: the recordings differ by 2 exits', () => {
    expect(on.totalExits).toBe(1034);
    expect(off.totalExits).toBe(1036);
    expect(r('total:+1').passed).toBe(false);
    expect(r('total:+2').passed).toBe(true);
    expect(r('total:+20%').passed).toBe(true);
  });
  it('rates use each run\'s duration', () => {
    const res = r('rate(total):+20%');
    expect(res.base).toBeCloseTo(on.totalExits / on.durationSeconds, 9);
    expect(res.next).toBeCloseTo(off.totalExits / off.durationSeconds, 9);
    expect(res.passed).toBe((res.next as number) <= (res.base as number) * 1.2);
  });
  it('p99 compares log2-bucket upper bounds; a reason with no exits on a side counts as 0', () => {
    const res = r('p99(EXCP_PF):>100us');
    expect(res).toMatchObject({ base: 0, next: off.exits.find((e) => e.name === 'EXCP_PF')?.latency?.p99Ns, passed: false });
    expect(r('p99(HLT):+100%', onToOn).passed).toBe(true);
  });
  it('lost and gaps: none in either run', () => {
    expect(r('lost:>0').passed).toBe(true);
    expect(r('gaps:>0').passed).toBe(true);
  });
  it('a reason with exits but no latency (--no-latency) cannot be measured: the rule breaks and says so', () => {
    const noLatency = { ...off, exits: off.exits.map(({ latency: _, ...e }) => e) };
    const res = r('p99(EXCP_PF):+100%', compareReports(on, noLatency, { baseLabel: 'a', nextLabel: 'b' }));
    expect(res.passed).toBe(false);
    expect(res.detail).toContain('cannot be measured in NEW');
  });
  it('the verdict counts broken rules', () => {
    const v = evaluateGate(parseFailOn(['EXCP_PF:>0,total:+20%,lost:>0']), onToOff);
    expect(v).toMatchObject({ passed: false, broken: 1 });
    expect(v.results.map((x) => x.passed)).toEqual([false, true, true]);
  });
});

describe('the markdown summary and the JUnit file', () => {
  const v = evaluateGate(parseFailOn(['EXCP_PF:>0,total:+20%']), onToOff);
  it('the summary: verdict, each rule with both sides, the broken rule named, then what changed', () => {
    const md = gateSummaryMarkdown({ commandStatus: 0, diff: onToOff, verdict: v, report: off });
    expect(md.split('\n')[0]).toBe('## exitscope gate: FAILED (1 of 2 rules broken; the command succeeded)');
    expect(md).toContain('| `EXCP_PF:>0` | 0 | 1031 | 0 | broken: EXCP\\_PF 1031 in NEW \\> limit 0 |');
    expect(md).toContain('- `EXCP_PF:>0` broken: EXCP\\_PF 1031 in NEW \\> limit 0');
    expect(md).toContain('### exitscope diff');
    expect(md).toContain('Nested paging is on in BASE and off in NEW');
  });
  it('without a baseline the summary is the run\'s report', () => {
    const md = gateSummaryMarkdown({ commandStatus: 1, report: off });
    expect(md.split('\n')[0]).toBe('## exitscope: the command failed (status 1)');
    expect(md).toContain('| exit reason | count |');
  });
  it('JUnit: one test case per rule, the broken one failed, read back by a strict parser and xmllint', () => {
    const xml = gateJunit(v, { baseline: 'base <&> "x".json', commandStatus: 0 });
    const j = readJunit(xml);
    expect(j).toMatchObject({ tests: 2, failures: 1 });
    expect(j.cases.map((c) => c.name)).toEqual(['EXCP_PF:>0', 'total:+20%']);
    expect(j.cases[0]?.failure?.message).toBe('broken: EXCP_PF 1031 in NEW > limit 0');
    expect(j.cases[1]?.failure).toBeUndefined();
    if (hasXmllint()) {
      const f = join(mkdtempSync(join(tmpdir(), 'exitscope-junit-')), 'gate.xml');
      writeFileSync(f, xml);
      xmllint(f);
    }
  });
  it('xmlText: markup escaped, characters XML cannot carry spelled out, so the file stays well-formed', () => {
    expect(xmlText(`a<b>&"'`)).toBe('a&lt;b&gt;&amp;&quot;&apos;');
    expect(xmlText('x\u0001\u001by\ud800')).toBe('x\\u0001\\u001by\\ud800');
    expect(xmlText('tab\tok\u{1f600}')).toBe('tab\tok\u{1f600}');
    const hostile = gateJunit({ passed: false, broken: 1, results: [{ rule: 'total:+1', passed: false, base: 1, next: 3, limit: 2, detail: 'x\u0000</failure><injected/>' }] }, { baseline: '\u001b]0;title\u0007', commandStatus: 0 });
    expect(readJunit(hostile).cases).toHaveLength(1);
  });
  it('the strict parser refuses what a real XML parser refuses', () => {
    const good = gateJunit(v, { baseline: 'b', commandStatus: 0 });
    expect(() => readJunit(good.replace('</testsuite>', ''))).toThrow();
    expect(() => readJunit(good.replace('&gt;', '&bogus;'))).toThrow(/bad entity/);
    expect(() => readJunit(good.replace('tests="2"', 'tests="3"'))).toThrow(/counts/);
    expect(() => readJunit(good.replace('EXCP_PF:&gt;0', 'EXCP_PF:<0'))).toThrow();
  });
});
