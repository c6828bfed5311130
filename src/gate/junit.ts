/**
 * The gate as a JUnit XML report (Jenkins' junit step, GitLab's artifacts:reports:junit): one
 * test case per --fail-on rule, a <failure> for a broken one. Pure.
 */
import type { GateVerdict } from './evaluate.js';

/**
 * Text for XML 1.0 attributes and content: the five markup characters as entities, and the
 * characters XML 1.0 cannot carry at all (C0 controls but TAB/LF/CR, lone surrogates, U+FFFE/F)
 * spelled out as \uXXXX, so that any host or rule text leaves the file well-formed.
 */
export function xmlText(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`)
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

export function gateJunit(v: GateVerdict, o: { suite?: string; baseline: string; commandStatus: number }): string {
  const suite = o.suite ?? 'exitscope gate';
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="exitscope" tests="${v.results.length}" failures="${v.broken}" errors="0">`,
    `  <testsuite name="${xmlText(suite)}" tests="${v.results.length}" failures="${v.broken}" errors="0" skipped="0">`,
    '    <properties>',
    `      <property name="baseline" value="${xmlText(o.baseline)}"/>`,
    `      <property name="command-status" value="${o.commandStatus}"/>`,
    '    </properties>',
  ];
  for (const r of v.results) {
    const name = xmlText(r.rule);
    if (r.passed) lines.push(`    <testcase classname="exitscope.gate" name="${name}"/>`);
    else {
      lines.push(`    <testcase classname="exitscope.gate" name="${name}">`);
      lines.push(`      <failure type="rule-broken" message="${xmlText(r.detail)}">${xmlText(`${r.rule}: ${r.detail}`)}</failure>`);
      lines.push('    </testcase>');
    }
  }
  lines.push('  </testsuite>', '</testsuites>');
  return `${lines.join('\n')}\n`;
}
