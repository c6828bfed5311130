/**
 * A service's months, in the lab's minutes: short-lived VMs, one after another on four parallel
 * loops (hundreds of VM processes, each with 2 vCPU threads), traced by one `exitscope run` under
 * `perf stat`. The maps are capped far below the keys the whole soak creates
 * (EXITSCOPE_MAP_KEYS_MAX): bpftrace's maps would fill and drop counts if they kept the keys of
 * gone VMs (they did before the copies rotated: docs/lab.md#bounded-maps has the numbers).
 * Checked: every count equals perf stat's over the whole soak, no map ever came near its cap,
 * the keys printed per interval follow the live VMs and not the soak's length, and the
 * collector's RSS stays flat.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpftraceOutputParser, type Frame } from '../../src/collector/bpftrace-output.js';
import { largestMap } from '../../src/collector/collector.js';
import { ORACLE_REASONS, oracleArgv, parseOracle } from '../../src/lab/oracle.js';
import { workloadArgs, workloadPath } from '../../src/lab/workload.js';
import type { Report } from '../../src/report/report.js';
import { type LabHandle, REPO, startLab } from './lab-harness.js';

/** Keys per map: the soak puts more than twice this many through each of @exits and @exit_ns (asserted below). */
const MAP_KEYS_MAX = 1024;
/**
 * 80 s in CI (~400 VMs). The claim of thousands is checked by the same test run longer:
 * EXITSCOPE_SOAK_SECONDS=600 (docs/lab.md#bounded-maps quotes that run).
 */
const SOAK_SECONDS = soakSeconds(process.env.EXITSCOPE_SOAK_SECONDS);
function soakSeconds(text: string | undefined): number {
  if (text === undefined) return 80;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 30 || n > 3600) throw new Error(`EXITSCOPE_SOAK_SECONDS must be 30..3600, not ${text}`);
  return n;
}
const LOOPS = 4;
/**
 * Each loop runs for SOAK_SECONDS and at least this many VMs: the VMs, not the clock, make the keys
 * that must outnumber the cap (a loaded CI host started 220 in 80 s where an idle one starts 415).
 */
const VMS_PER_LOOP = 100;

describe('soak: short-lived VMs for minutes, bounded maps, exact counts', { timeout: (SOAK_SECONDS + 520) * 1000 }, () => {
  let lab: LabHandle;
  beforeAll(async () => {
    lab = await startLab({ npt: true });
  });
  afterAll(async () => {
    await lab?.session.stop();
  });

  it(`${LOOPS} loops of VMs for ${SOAK_SECONDS} s: exact, bounded, flat`, async () => {
    const out = lab.outDir;
    const workload = [workloadPath(REPO), ...workloadArgs('io', 20, 2)].join(' ');
    // Runs under `exitscope run` (its parent, $PPID, is exitscope's node process): the VM loops and a
    // sampler of exitscope's RSS. Every word is a validated number or a path of ours.
    const soak = join(out, 'soak.sh');
    writeFileSync(
      soak,
      [
        'set -u',
        `end=$(( $(date +%s) + ${SOAK_SECONDS} ))`,
        `( while kill -0 $PPID 2>/dev/null; do echo "$(date +%s) $(awk '/^VmRSS/ {print $2}' /proc/$PPID/status)"; sleep 2; done ) > ${out}/rss.log &`,
        'sampler=$!',
        // the kernel memory of bpftrace's maps (memlock in each map fd's fdinfo), once attached
        `( sleep 20; b=$(pgrep -n -x bpftrace); for f in /proc/$b/fdinfo/*; do grep -s '^memlock' $f; done | awk '{s+=$2} END {print s}' > ${out}/memlock ) &`,
        'loops=""',
        `for j in $(seq ${LOOPS}); do`,
        `  ( n=0; while [ $(date +%s) -lt $end ] || [ $n -lt ${VMS_PER_LOOP} ]; do ${workload} > /dev/null || exit 1; n=$((n+1)); done; echo $n > ${out}/vms.$j ) &`,
        '  loops="$loops $!"',
        'done',
        'status=0',
        'for p in $loops; do wait $p || status=1; done',
        'kill $sampler 2>/dev/null',
        'exit $status',
      ].join('\n'),
    );
    const reportFile = join(out, 'soak.report.json');
    const rawLog = join(out, 'bpftrace.jsonl');
    const csv = '/tmp/soak.csv';
    const exitscope = [join(REPO, 'bin/exitscope.js'), 'run', '-f', 'json', '--report-file', reportFile, '--', 'sh', soak];
    const argv = oracleArgv(exitscope, csv);
    const command = `EXITSCOPE_MAP_KEYS_MAX=${MAP_KEYS_MAX} EXITSCOPE_BPFTRACE_LOG=${rawLog} ${argv.map((a) => (/^[\w/.:=,-]+$/.test(a) ? a : `'${a}'`)).join(' ')} && cat ${csv} >&2`;
    const r = await lab.session.exec(command, (SOAK_SECONDS + 500) * 1000);
    if (r.status !== 0) throw new Error(`the soak under perf failed (${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    const oracle = parseOracle(r.stderr.slice(r.stderr.indexOf('# started on')));
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    const vms = Array.from({ length: LOOPS }, (_, j) => Number(readFileSync(join(out, `vms.${j + 1}`), 'utf8'))).reduce((a, b) => a + b, 0);

    // exact over the whole soak, per reason
    expect(report.complete).toBe(true);
    expect(report.lostEvents).toBe(0);
    expect(report.errors.map((e) => e.code)).not.toContain('MAPS_NEARLY_FULL');
    expect(report.totalExits).toBe(oracle.exits);
    for (const reason of ORACLE_REASONS) {
      const ours = report.exits.filter((e) => e.reason === reason).reduce((a, e) => a + e.count, 0);
      expect(ours, `exit reason ${reason}`).toBe(oracle.exitsByReason.get(reason) ?? 0);
    }
    expect(report.pageFaults.count).toBe(oracle.pageFaults);

    // what bpftrace printed, interval by interval (its own output, as exitscope read it)
    const frames: Frame[] = [];
    const parser = new BpftraceOutputParser();
    parser.push(readFileSync(rawLog), (e) => e.kind === 'frame' && frames.push(e.frame));
    parser.end(() => undefined);
    const intervals = frames.filter((f) => !f.final);
    const everKeys = new Set<string>();
    const everHist = new Set<string>();
    const pidsPerFrame: number[] = [];
    const keysPerFrame: number[] = [];
    for (const f of frames) {
      const pids = new Set<number>();
      let keys = 0;
      for (const c of f.copies.values()) {
        for (const k of c.exits.keys()) {
          everKeys.add(k);
          pids.add(Number(k.slice(0, k.indexOf(','))));
        }
        for (const [k, b] of c.exitNs) for (const x of b) everHist.add(`${k},${x.low}`);
        keys += c.exits.size + c.exitNs.size + c.faults.size + c.regions.size + c.handlerCalls.size + c.handlerNs.size;
      }
      pidsPerFrame.push(pids.size);
      keysPerFrame.push(keys);
    }
    const largest = Math.max(...frames.map(largestMap));
    const waits = intervals.filter((f, i) => i > 0 && f.cleared === undefined).length;
    const rss = readFileSync(join(out, 'rss.log'), 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[1])).filter((n) => n > 0);
    const third = Math.floor(rss.length / 3);
    const summary = { vms, seconds: SOAK_SECONDS, exits: report.totalExits, intervals: intervals.length, epochWaits: waits, keysEver: everKeys.size, histEntriesEver: everHist.size, largestMapPrinted: largest, mapKeysMax: MAP_KEYS_MAX, mostPidsPerInterval: Math.max(...pidsPerFrame), mostKeysPerInterval: Math.max(...keysPerFrame), rssKiB: { first: rss.slice(0, third), last: rss.slice(-third) }, mapsMemlockBytes: readFileSync(join(out, 'memlock'), 'utf8').trim() };
    process.stderr.write(`soak: ${JSON.stringify(summary)}\n`);

    // hundreds of VM processes (each 2 vCPU threads) put more keys through each map than it may hold:
    // maps that kept the keys of gone VMs would have filled and stopped counting (main did: docs/lab.md)
    expect(vms).toBeGreaterThanOrEqual(LOOPS * VMS_PER_LOOP);
    expect(everKeys.size).toBeGreaterThan(MAP_KEYS_MAX);
    expect(everHist.size).toBeGreaterThan(MAP_KEYS_MAX);
    // never near the cap: the maps hold the live VMs of an interval or two
    expect(largest).toBeLessThan(MAP_KEYS_MAX / 2);
    // bounded by the live VMs, not by time: an interval prints two copies (the active one and the one
    // it took over from), so it names the VMs that ran in the last two intervals: the ones running
    // (one per loop) and those started since. 3x the soak's mean rate leaves room for its jitter;
    // keys kept since the start would name hundreds.
    const vmsPerSecond = vms / report.durationSeconds;
    const intervalSeconds = report.durationSeconds / Math.max(1, intervals.length);
    const liveBound = LOOPS + Math.ceil(3 * vmsPerSecond * 2 * intervalSeconds);
    expect(Math.max(...pidsPerFrame)).toBeLessThanOrEqual(liveBound);
    // (no comparison of early and late intervals' sizes: on a shared host the VMs' pace changes
    // over the run, and the bound above, by live VMs, is the claim)
    // the collector's memory: flat (the last third's peak within 25% of the first third's)
    // at least three samples a third (the sampler's 2 s pace stretches on a loaded host)
    expect(rss.length).toBeGreaterThanOrEqual(9);
    expect(Math.max(...rss.slice(-third))).toBeLessThanOrEqual(1.25 * Math.max(...rss.slice(0, third)));
  });
});
