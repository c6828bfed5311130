/**
 * The collector when things go wrong, in a real lab guest: bpftrace killed
 * mid-run (restarted, the gap marked, counts before and after kept), Ctrl-C
 * (SIGINT) during a recording (the final totals flushed), and the machines it
 * cannot trace (no bpftrace, not root, no KVM tracepoints): one clear error each.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTally, workloadPath } from '../../src/lab/workload.js';
import { parseRecording } from '../../src/recording/recording.js';
import { buildReport, type Report } from '../../src/report/report.js';
import { Aggregate } from '../../src/model/aggregate.js';
import { type LabHandle, REPO, startLab } from './lab-harness.js';

const EXITSCOPE = `node ${join(REPO, 'bin/exitscope.js')}`;
const IOIO = 123;
const ioCount = (r: Report): number => r.exits.filter((e) => e.isa === 2 && e.reason === IOIO).reduce((a, e) => a + e.count, 0);

describe('collector trouble, in the lab (npt on)', { timeout: 240_000 }, () => {
  let lab: LabHandle;
  beforeAll(async () => {
    lab = await startLab({ npt: true });
  });
  afterAll(async () => {
    await lab?.session.stop();
  });

  it('bpftrace killed mid-run: reported, restarted, the gap marked; counts before and after it kept', async () => {
    const rec = join(lab.outDir, 'killed.jsonl');
    const reportFile = join(lab.outDir, 'killed.report.json');
    const W = workloadPath(REPO);
    // The command waits until the collector says it restarted, so its second part is counted.
    const script = [
      `${W} io 499 > ${lab.outDir}/first.json`,
      'sleep 3', // a few intervals: the first part is in a snapshot before the kill
      'pkill -KILL -x bpftrace',
      `until grep -q '"type":"gap"' ${rec}; do sleep 0.5; done`,
      `${W} io 1009 > ${lab.outDir}/second.json`,
    ].join(' && ');
    const scriptFile = join(lab.outDir, 'kill-bpftrace.sh');
    writeFileSync(scriptFile, `${script}\n`);
    const r = await lab.session.exec(`${EXITSCOPE} run -f json --report-file ${reportFile} -o ${rec} -- sh -e ${scriptFile}`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/bpftrace was killed by SIGKILL; restarted it: exits in the gap were not counted/);

    const { messages, problems } = parseRecording(readFileSync(rec, 'utf8'));
    expect(problems).toEqual([]);
    const gaps = messages.filter((m) => m.type === 'gap');
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ resumed: true, reason: 'bpftrace was killed by SIGKILL' });
    expect(messages.at(-1)).toMatchObject({ type: 'end', complete: true });

    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    expect(report.gaps).toHaveLength(1);
    expect(report.hints.map((h) => h.id)).toContain('gaps');
    const first = parseTally(readFileSync(join(lab.outDir, 'first.json'), 'utf8'));
    const second = parseTally(readFileSync(join(lab.outDir, 'second.json'), 'utf8'));
    const expectIo = (t: typeof first): number => t.expected.find((e) => e.reason === IOIO)!.count;
    expect(ioCount(report)).toBe(expectIo(first) + expectIo(second));
    // the report read back from the recording says the same
    const agg = new Aggregate();
    for (const m of messages) agg.apply(m);
    expect(ioCount(buildReport(agg))).toBe(ioCount(report));
  });

  it('SIGINT during a recording: the final totals are flushed, exact to the last exit', async () => {
    const rec = join(lab.outDir, 'interrupted.jsonl');
    const tally = join(lab.outDir, 'interrupted.tally.json');
    const r = await lab.session.exec(
      [
        `${EXITSCOPE} record -o ${rec} & P=$!`,
        `until grep -q '"type":"snapshot"' ${rec} 2>/dev/null; do sleep 0.3; done`,
        // interrupted at once: what the workload did after the last interval is only in the final dump
        `${workloadPath(REPO)} io 1013 > ${tally}`,
        'kill -INT $P',
        'wait $P',
      ].join('; '),
    );
    expect(r.status, r.stderr).toBe(0);
    const { messages, problems } = parseRecording(readFileSync(rec, 'utf8'));
    expect(problems).toEqual([]);
    expect(messages.at(-1)).toMatchObject({ type: 'end', complete: true });
    expect(messages.some((m) => m.type === 'snapshot' && m.final)).toBe(true);
    const agg = new Aggregate();
    for (const m of messages) agg.apply(m);
    const report = buildReport(agg);
    const t = parseTally(readFileSync(tally, 'utf8'));
    for (const e of t.expected) expect(report.exits.find((x) => x.isa === e.isa && x.reason === e.reason)?.count, e.name).toBe(e.count);
  });

  it('no bpftrace on PATH: one clear error with the fix', async () => {
    const r = await lab.session.exec(`mkdir -p /tmp/nobpf && ln -sf "$(command -v node)" /tmp/nobpf/node && PATH=/tmp/nobpf ${EXITSCOPE} run -- /bin/true`);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error \[NO_BPFTRACE\]/);
    expect(r.stderr).toMatch(/fix: .*apt-get install bpftrace/);
    expect(r.stderr.match(/error \[/g)).toHaveLength(1);
  });

  it('not root: one clear error with the fix', async () => {
    const r = await lab.session.exec(`runuser -u nobody -- ${EXITSCOPE} run -- /bin/true`);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error \[NO_ROOT\]/);
    expect(r.stderr).toMatch(/fix: .*root/);
    expect(r.stderr.match(/error \[/g)).toHaveLength(1);
  });

  it('doctor tries what top runs: the trial attach is ok here, and only then "can trace here"', async () => {
    const d = await lab.session.exec(`${EXITSCOPE} doctor`);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/trial attach\s+ok\s+bpftrace compiled and attached the program top runs in \d+\.\d s/);
    expect(d.stdout).toMatch(/exitscope can trace here\.\n$/);
    expect(d.stderr).toContain('doctor: trying the program top runs');
    // no bpftrace left behind
    expect((await lab.session.exec('pgrep -x bpftrace || true')).stdout).toBe('');
    const j = await lab.session.exec(`${EXITSCOPE} doctor --json --no-trial`);
    expect(j.status).toBe(0);
    expect((JSON.parse(j.stdout) as { checks: { name: string }[] }).checks.map((k) => k.name)).not.toContain('trial attach');
  });

  // last: it unloads KVM from this guest
  it('no KVM tracepoints (kvm unloaded): one clear error with the fix; doctor says what is missing', async () => {
    const r = await lab.session.exec(`rmmod kvm_amd && rmmod kvm && ! test -d /sys/kernel/tracing/events/kvm && ${EXITSCOPE} run -- /bin/true`);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error \[NO_KVM\]/);
    expect(r.stderr).toMatch(/fix: modprobe kvm_amd/);
    expect(r.stderr.match(/error \[/g)).toHaveLength(1);
    const d = await lab.session.exec(`${EXITSCOPE} doctor`);
    expect(d.status).toBe(1);
    expect(d.stdout).toMatch(/tracepoint kvm:kvm_exit\s+MISSING/);
  });
});
