/**
 * diff and the CI gate in the lab, the seed article's story end to end: the same workload
 * (exitscope-workload npf 1031) under `exitscope run` on a host with nested paging on and on one
 * with it off. `diff` shows NPF exits replaced by #PF intercepts (SVM exit 0x4e = 78, EXCP_PF)
 * and says nested paging is off; `run --baseline ON --fail-on 'EXCP_PF:>0'` fails the npt-off
 * job with status 3, a summary naming the rule and a JUnit file with one failure, and passes on
 * the npt-on host. One lab boot per npt setting (npt is a boot option).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, type LabHandle, startLab } from './lab-harness.js';
import { hasXmllint, readJunit, xmllint } from '../unit/support/junit-check.js';

const EXCP_PF = 0x4e; // 78
const NPF = 0x400;
const N = 1031;
const exitscopeHost = (...args: string[]) => execa('node', [join(REPO, 'bin/exitscope.js'), ...args], { reject: false, env: { NO_COLOR: '1' } });

// each boot has its own writable directory (the guest sees the rest of the host read-only):
// the npt-on files are written to the first, read from there by the second boot and the host
const dirs: Record<string, string> = {};
const OFF_FILES = new Set(['off.jsonl', 'off-summary.md', 'off.xml']);
const out = (name: string): string => join((OFF_FILES.has(name) ? dirs.off : dirs.on) ?? '', name);

interface DiffJson {
  exits: { name: string; reason: number; count: { base: number; next: number } }[];
  handlers: { handler: string; role: string; count: { base: number; next: number } }[];
  hints: { id: string; message: string }[];
}

describe('diff and the gate across nested paging on and off', { timeout: 240_000 }, () => {
  let lab: LabHandle | undefined;
  beforeAll(async () => {
    // npt on: the healthy host. Its run is the baseline (a recording and a report -f json).
    lab = await startLab({ npt: true });
    dirs.on = lab.outDir;
    const r = await lab.session.exec(`exitscope run -o ${out('on.jsonl')} -f json --report-file ${out('on.json')} -- exitscope-workload npf ${N}`);
    if (r.status !== 0) throw new Error(`run on the npt-on host failed (${r.status}):\n${r.stderr}`);
    // the gate on the same kind of host passes
    const g = await lab.session.exec(`exitscope run -o ${out('on-again.jsonl')} --report-file /dev/null --baseline ${out('on.json')} --fail-on 'EXCP_PF:>0' --summary ${out('on-summary.md')} --junit ${out('on.xml')} -- exitscope-workload npf ${N}`);
    onGate = g;
    await lab.session.stop();
    // npt off: the host in question, same workload, gated against the npt-on baseline
    lab = await startLab({ npt: false });
    dirs.off = lab.outDir;
    offGate = await lab.session.exec(`exitscope run -o ${out('off.jsonl')} --report-file /dev/null --baseline ${out('on.json')} --fail-on 'EXCP_PF:>0' --summary ${out('off-summary.md')} --junit ${out('off.xml')} -- exitscope-workload npf ${N}`);
    // a failing command keeps its own status, whatever the gate says
    failingCommand = await lab.session.exec(`exitscope run --no-output --report-file /dev/null --baseline ${out('on.jsonl')} --fail-on 'EXCP_PF:>0' -- sh -c 'exitscope-workload npf ${N} >/dev/null; exit 7'`);
  }, 420_000); // two boots and four runs under emulation, on a shared machine
  afterAll(async () => {
    await lab?.session.stop();
  });
  let onGate: { status: number; stdout: string; stderr: string };
  let offGate: { status: number; stdout: string; stderr: string };
  let failingCommand: { status: number; stdout: string; stderr: string };

  it('diff ON OFF: NPF exits replaced by #PF intercepts (EXCP_PF, 78) and the shadow handler; the nested-paging hint', async () => {
    const r = await exitscopeHost('diff', out('on.jsonl'), out('off.jsonl'), '-f', 'json');
    expect(r.exitCode).toBe(0);
    const d = JSON.parse(r.stdout) as DiffJson;
    const row = (reason: number) => d.exits.find((e) => e.reason === reason);
    expect(row(NPF)?.count).toMatchObject({ base: N, next: 0 });
    expect(row(EXCP_PF)?.name).toBe('EXCP_PF');
    expect(row(EXCP_PF)?.count).toMatchObject({ base: 0, next: N });
    expect(d.handlers.find((h) => h.role === 'tdp')?.count).toMatchObject({ base: N, next: 0 });
    expect(d.handlers.filter((h) => h.role === 'shadow').reduce((a, h) => a + h.count.next, 0)).toBe(N);
    expect(d.hints.map((h) => h.id)).toContain('nested-paging-off');

    const text = await exitscopeHost('diff', out('on.jsonl'), out('off.jsonl'));
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^NPF\s+svm 1024\s+1031\s+0\s+-1031 \(gone\)/m);
    expect(text.stdout).toMatch(/^EXCP_PF\s+svm 78\s+0\s+1031\s+\+1031 \(new\)/m);
    expect(text.stdout).toContain('WARNING: Nested paging is on in BASE and off in NEW');
  });

  it('diff of the report -f json baseline against the npt-off recording says the same', async () => {
    const r = await exitscopeHost('diff', out('on.json'), out('off.jsonl'), '-f', 'json');
    expect(r.exitCode).toBe(0);
    const d = JSON.parse(r.stdout) as DiffJson;
    expect(d.exits.find((e) => e.reason === EXCP_PF)?.count).toMatchObject({ base: 0, next: N });
    expect(d.hints.map((h) => h.id)).toContain('nested-paging-off');
  });

  it("npt off: the gate fails with status 3, says the rule, and the summary names it", () => {
    expect(offGate.status, offGate.stderr).toBe(3);
    expect(offGate.stderr).toContain('exitscope: gate FAILED: EXCP_PF:>0 broken');
    const summary = readFileSync(out('off-summary.md'), 'utf8');
    expect(summary).toMatch(/^## exitscope gate: FAILED \(1 of 1 rule broken; the command succeeded\)/m);
    expect(summary).toContain(`| \`EXCP_PF:>0\` | 0 | ${N} | 0 | broken: EXCP\\_PF ${N} in NEW \\> limit 0 |`);
    expect(summary).toContain('Nested paging is on in BASE and off in NEW');
  });

  it('npt off: the JUnit file is well-formed XML with one test case, failed, naming the rule', () => {
    const xml = readFileSync(out('off.xml'), 'utf8');
    const j = readJunit(xml);
    expect(j.tests).toBe(1);
    expect(j.failures).toBe(1);
    expect(j.cases[0]?.name).toBe('EXCP_PF:>0');
    expect(j.cases[0]?.failure?.message).toContain(`EXCP_PF ${N} in NEW > limit 0`);
    if (hasXmllint()) xmllint(out('off.xml'));
  });

  it('npt on: the same gate passes (status 0, JUnit without failures)', () => {
    expect(onGate.status, onGate.stderr).toBe(0);
    expect(onGate.stderr).toContain('exitscope: gate passed');
    const j = readJunit(readFileSync(out('on.xml'), 'utf8'));
    expect(j).toMatchObject({ tests: 1, failures: 0 });
    expect(readFileSync(out('on-summary.md'), 'utf8')).toMatch(/^## exitscope gate: passed/m);
    if (hasXmllint()) xmllint(out('on.xml'));
  });

  it("a failing COMMAND keeps its own status (7), the broken rule is still said", () => {
    expect(failingCommand.status).toBe(7);
    expect(failingCommand.stderr).toContain("EXCP_PF:>0 broken");
    expect(failingCommand.stderr).toContain("the command's own status 7 is kept");
  });

  it('the files exist where the guest wrote them', () => {
    for (const f of ['on.jsonl', 'on.json', 'off.jsonl', 'off.xml', 'off-summary.md']) expect(existsSync(out(f)), f).toBe(true);
  });
});
