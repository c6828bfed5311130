/**
 * Issue 9's reproductions, in a real lab guest:
 * - requests that once killed `exitscope serve` (paths `//`, `//[::`, `//:99999`, an upgrade on `//`)
 *   are answered, and the server goes on streaming exact counts to a legitimate client;
 * - a recording into a full filesystem (a 64 KiB tmpfs, pre-filled) ends with one `error [CODE]` and
 *   a fix, no stack, bpftrace stopped, and what was written readable;
 * - SIGTERM and SIGINT after bpftrace was killed and restarted still end the recording in order
 *   (final totals, `end`), exact to the last exit;
 * - SIGINT while bpftrace's user space is intervals behind (stopped): END's marker names the clears
 *   not done, and the totals are exact (docs/lab.md#bounded-maps);
 * - SIGKILL of exitscope leaves no bpftrace behind.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aggregate } from '../../src/model/aggregate.js';
import { parseTally, workloadPath } from '../../src/lab/workload.js';
import { parseRecording } from '../../src/recording/recording.js';
import { buildReport } from '../../src/report/report.js';
import { type LabHandle, REPO, startLab } from './lab-harness.js';

const EXITSCOPE = `node ${join(REPO, 'bin/exitscope.js')}`;
const IOIO = 123;

function countsOf(recording: string): { report: ReturnType<typeof buildReport>; messages: ReturnType<typeof parseRecording>['messages'] } {
  const { messages, problems } = parseRecording(readFileSync(recording, 'utf8'));
  expect(problems).toEqual([]);
  const agg = new Aggregate();
  for (const m of messages) agg.apply(m);
  return { report: buildReport(agg), messages };
}

const ioOf = (r: ReturnType<typeof buildReport>): number => r.exits.filter((e) => e.isa === 2 && e.reason === IOIO).reduce((a, e) => a + e.count, 0);
/** A shell loop that waits for a condition, at most `seconds`, then fails the script. */
const waitFor = (cond: string, seconds: number, what: string): string => `i=0; until ${cond}; do i=$((i+1)); [ $i -le ${seconds * 5} ] || { echo "timed out: ${what}" >&2; exit 9; }; sleep 0.2; done`;

describe('hardening, in the lab (npt on)', { timeout: 300_000 }, () => {
  let lab: LabHandle;
  beforeAll(async () => {
    lab = await startLab({ npt: true });
  });
  afterAll(async () => {
    await lab?.session.stop();
  });

  it('requests that once killed serve are answered; the server goes on and a legitimate client gets exact counts', async () => {
    const out = lab.outDir;
    const curl = (target: string, extra = ''): string => `curl -s -m 5 -o /dev/null -w '%{http_code}\\n' ${extra} --request-target '${target}' http://127.0.0.1:8080/ >> ${out}/codes || echo curl-failed >> ${out}/codes`;
    const upgrade = "-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='";
    const script = join(out, 'serve-hostile.sh');
    writeFileSync(
      script,
      [
        `${EXITSCOPE} serve 8080 2> ${out}/serve.err & S=$!`,
        waitFor(`grep -q 'serving the stream' ${out}/serve.err`, 120, 'the server'),
        curl('//'),
        curl('//[::'),
        curl('//:99999'),
        curl('//', upgrade),
        'kill -0 $S', // still alive
        `${EXITSCOPE} record --from ws://127.0.0.1:8080 -o ${out}/remote.jsonl 2> ${out}/remote.err & R=$!`,
        waitFor(`grep -q '"type":"snapshot"' ${out}/remote.jsonl 2>/dev/null`, 60, 'the first snapshot'),
        `${workloadPath(REPO)} io 1009 > ${out}/serve-tally.json`,
        'kill -INT $S; wait $S; echo serve-status=$?',
        waitFor('! kill -0 $R 2>/dev/null', 30, 'record --from to end'),
        'wait $R; echo record-status=$?',
      ].join('\n'),
    );
    const r = await lab.session.exec(`bash -e ${script}`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('serve-status=0');
    expect(r.stdout).toContain('record-status=0');
    const codes = readFileSync(join(out, 'codes'), 'utf8').trim().split('\n');
    expect(codes).toHaveLength(4);
    for (const c of codes) expect(c).toMatch(/^4\d\d$/);
    const serveErr = readFileSync(join(out, 'serve.err'), 'utf8');
    expect(serveErr).not.toMatch(/TypeError|\n\s+at /);
    const { report } = countsOf(join(out, 'remote.jsonl'));
    const tally = parseTally(readFileSync(join(out, 'serve-tally.json'), 'utf8'));
    expect(ioOf(report)).toBe(tally.expected.find((e) => e.reason === IOIO)?.count);
  });

  it('a recording into a full filesystem: one error with a fix, no stack, bpftrace stopped, what was written readable', { timeout: 600_000 }, async () => {
    const out = lab.outDir;
    const script = join(out, 'full.sh');
    writeFileSync(
      script,
      [
        'mkdir -p /mnt/small && mount -t tmpfs -o size=64k tmpfs /mnt/small',
        'head -c 49152 /dev/zero > /mnt/small/fill',
        `nice -n 10 ${workloadPath(REPO)} io 2000 --loop > /dev/null & W=$!`,
        // --detail writes every exit's line: the 16 KiB left fill up within seconds
        // a bound for a hang, not a pace: attaching alone takes minutes on a loaded host
        `set +e; timeout -s KILL 300 ${EXITSCOPE} record --detail 200 -o /mnt/small/rec.jsonl 2> ${out}/full.err; echo record-status=$?; set -e`,
        'kill $W; wait $W 2>/dev/null || true',
        waitFor('! pgrep -x bpftrace >/dev/null', 15, 'bpftrace to be gone'),
        `cp /mnt/small/rec.jsonl ${out}/full.jsonl`,
        `set +e; ${EXITSCOPE} record -o /dev/full --duration 5 2> ${out}/devfull.err; echo devfull-status=$?`,
      ].join('\n'),
    );
    const r = await lab.session.exec(`bash -e ${script}`, 480_000);
    expect(r.status, r.stderr).toBe(0);
    for (const [file, status] of [['full.err', 'record-status'], ['devfull.err', 'devfull-status']] as const) {
      const err = readFileSync(join(out, file), 'utf8');
      expect(r.stdout).toMatch(new RegExp(`${status}=[12]\\b`));
      expect(err).toMatch(/error \[RECORDING_WRITE\]: .*(ENOSPC|no space)/i);
      expect(err).toMatch(/\n {2}fix: /);
      expect(err).not.toMatch(/\n\s+at /); // no stack
    }
    // what was written reads back: the stream from its hello, at most a cut last line
    const { messages, problems } = parseRecording(readFileSync(join(out, 'full.jsonl'), 'utf8'));
    expect(messages[0]?.type).toBe('hello');
    expect(problems.length).toBeLessThanOrEqual(1);
    if (problems[0]) expect(problems[0].message).toMatch(/truncated/);
    const end = messages.find((m) => m.type === 'end');
    if (end) expect(end).toMatchObject({ complete: false });
  });

  for (const [signal, restarts] of [['TERM', 2], ['INT', 1]] as const) {
    it(`SIG${signal} after ${restarts} bpftrace restart(s): the final totals and the end are written, exact to the last exit`, async () => {
      const out = lab.outDir;
      const rec = join(out, `restarted-${signal}.jsonl`);
      const tallyFile = join(out, `restarted-${signal}.tally.json`);
      const kills: string[] = [];
      for (let k = 1; k <= restarts; k++) {
        kills.push('pkill -KILL -x bpftrace');
        // the gap is written once the new bpftrace is attached
        kills.push(waitFor(`[ "$(grep -c '"type":"gap"' ${rec})" -ge ${k} ]`, 60, `restart ${k}`));
      }
      const script = join(out, `restart-${signal}.sh`);
      writeFileSync(
        script,
        [
          `${EXITSCOPE} record -o ${rec} 2> ${out}/restart-${signal}.err & P=$!`,
          waitFor(`grep -q '"type":"snapshot"' ${rec} 2>/dev/null`, 120, 'the first snapshot'),
          ...kills,
          // counted after the last restart, and interrupted at once: the last exits are only in the final dump
          `${workloadPath(REPO)} io 1013 > ${tallyFile}`,
          `kill -${signal} $P`,
          'set +e; wait $P; echo status=$?',
        ].join('\n'),
      );
      const r = await lab.session.exec(`bash -e ${script}`);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('status=0');
      const { report, messages } = countsOf(rec);
      expect(messages.filter((m) => m.type === 'gap')).toHaveLength(restarts);
      expect(messages.some((m) => m.type === 'snapshot' && m.final)).toBe(true);
      expect(messages.at(-1)).toMatchObject({ type: 'end', complete: true });
      // every exit of the workload run after the restarts is there (the gap was before it)
      const t = parseTally(readFileSync(tallyFile, 'utf8'));
      const io = t.expected.find((e) => e.reason === IOIO)?.count ?? 0;
      expect(ioOf(report)).toBe(io);
    });
  }

  it('SIGINT while bpftrace is intervals behind: END says which clears were not done, and the totals are exact', async () => {
    const out = lab.outDir;
    const rec = join(out, 'behind.jsonl');
    const raw = join(out, 'behind.raw');
    const r = await lab.session.exec(
      [
        `EXITSCOPE_BPFTRACE_LOG=${raw} ${EXITSCOPE} record -o ${rec} 2> ${out}/behind.err & P=$!`,
        waitFor(`grep -q '"type":"snapshot"' ${rec} 2>/dev/null`, 120, 'the first snapshot'),
        'B=$(pgrep -x bpftrace)',
        `${workloadPath(REPO)} io 1013 > ${out}/behind-1.json`,
        // bpftrace's user space stops; the kernel keeps counting, and the interval probe keeps
        // queueing prints and clears that nobody does (the epoch waits for them)
        'kill -STOP $B',
        `${workloadPath(REPO)} io 1019 > ${out}/behind-2.json`,
        'sleep 3.5',
        // exitscope passes SIGINT on; bpftrace takes it as it wakes, before reading what is queued,
        // then runs END and reads the rest
        'kill -INT $P',
        'sleep 1',
        'kill -CONT $B',
        'set +e; wait $P; echo status=$?',
      ].join('\n'),
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('status=0');
    // END ran with clears still queued: some copy's pending time is not 0
    const final = readFileSync(raw, 'utf8').split('\n').find((l) => l.includes('exitscope:final'));
    expect(final).toBeDefined();
    const pending = (/exitscope:final \d+((?: \d+)+)/.exec(final as string)?.[1] ?? '').trim().split(' ').map(Number);
    expect(pending).toHaveLength(3);
    expect(pending.some((t) => t > 0)).toBe(true);
    const { report, messages } = countsOf(rec);
    expect(messages.at(-1)).toMatchObject({ type: 'end', complete: true });
    const io = [1, 2].map((k) => parseTally(readFileSync(join(out, `behind-${k}.json`), 'utf8')).expected.find((e) => e.reason === IOIO)?.count ?? 0);
    expect(io[0]).toBeGreaterThan(1000);
    expect(ioOf(report)).toBe((io[0] as number) + (io[1] as number));
  });

  it('SIGTERM to exitscope run alone (a CI timeout): passed on to COMMAND, the run ends in order, the --scope cgroup removed', async () => {
    const out = lab.outDir;
    const rec = join(out, 'run-term.jsonl');
    const r = await lab.session.exec(
      [
        `${EXITSCOPE} run --scope -o ${rec} -f json --report-file ${out}/run-term.report.json -- sleep 600 2> ${out}/run-term.err & P=$!`,
        waitFor(`grep -q '"type":"snapshot"' ${rec} 2>/dev/null`, 120, 'the first snapshot'),
        'kill -TERM $P', // to exitscope only, not its process group
        'set +e; wait $P; echo status=$?; set -e',
        'ls /sys/fs/cgroup | grep -c exitscope-run || true',
        '! pgrep -x sleep > /dev/null && echo sleep-gone',
      ].join('\n'),
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('status=143'); // COMMAND's own status: killed by the SIGTERM passed on
    expect(r.stdout).toMatch(/^0$/m); // no cgroup left
    expect(r.stdout).toContain('sleep-gone');
    const { messages } = countsOf(rec);
    expect(messages.at(-1)).toMatchObject({ type: 'end', complete: true });
    const report = JSON.parse(readFileSync(join(out, 'run-term.report.json'), 'utf8')) as { scope?: unknown };
    expect(report.scope).toBeDefined();
    expect(readFileSync(join(out, 'run-term.err'), 'utf8')).not.toMatch(/\n\s+at /);
  });

  it('SIGKILL of exitscope: bpftrace does not outlive it', async () => {
    const out = lab.outDir;
    const rec = join(out, 'sigkill.jsonl');
    const r = await lab.session.exec(
      [
        `${EXITSCOPE} record -o ${rec} & P=$!`,
        waitFor(`grep -q '"type":"snapshot"' ${rec} 2>/dev/null`, 120, 'the first snapshot'),
        'pgrep -x bpftrace > /dev/null',
        'kill -KILL $P',
        waitFor('! pgrep -x bpftrace > /dev/null', 15, 'bpftrace to be gone'),
        'echo bpftrace-gone',
      ].join('\n'),
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('bpftrace-gone');
  });
});
