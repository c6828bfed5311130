import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROBE_SCRIPTS, probeScriptText } from '../../src/probes/catalog.js';
import { HANDLERS } from '../../src/probes/capabilities.js';
import { buildProgram, COPIES, COUNTING_MAPS, EPOCH, MAPS, MARK, type ProgramOptions, ROTATION_MS, rotateEvery } from '../../src/probes/program.js';

const REPO = join(import.meta.dirname, '../..');
const ALL: ProgramOptions = { intervalMs: 1000, latency: true, pageFaults: true, handlers: ['kvm_tdp_page_fault'] };

describe('probes/*.bt', () => {
  it.each(PROBE_SCRIPTS.map((p) => [p.file, p] as const))('%s is the builder\'s current output (regenerate: node scripts/gen-probes.mjs)', (file, p) => {
    expect(readFileSync(join(REPO, 'probes', file), 'utf8')).toBe(probeScriptText(p));
  });

  it.each(PROBE_SCRIPTS.map((p) => [p.file, p] as const))('%s has a header in the style of bpftrace\'s tools and a real example', (file, p) => {
    const text = probeScriptText(p);
    for (const part of ['USAGE:', 'REQUIRES:', 'OVERHEAD:', file.replace(/\.bt$/, '_example.txt')]) expect(text).toContain(part);
    const example = join(REPO, 'probes', file.replace(/\.bt$/, '_example.txt'));
    expect(existsSync(example), `${example} (record: bash scripts/record-probe-examples.sh)`).toBe(true);
    const ex = readFileSync(example, 'utf8');
    expect(ex).toContain(`bpftrace probes/${file}`);
    expect(ex).toMatch(/recorded in the lab \(\d+\.\d+/); // provenance: the kernel it ran on
    // every map the script prints appears in its example output with at least one entry
    const printed = [...text.matchAll(/print\((@\w+)\)/g)].map((m) => m[1]);
    for (const m of new Set(printed)) expect(ex, m).toMatch(new RegExp(`^${m}\\[`, 'm'));
    if (p.options.detailPerInterval !== undefined) expect(ex).toMatch(new RegExp(`^${MARK.exit} \\d+ \\d+ \\d+ \\d+`, 'm'));
  });
});

describe('buildProgram', () => {
  it('one copy (the standalone scripts): prints every map between the markers each interval and once more at END, then clears them', () => {
    const { text } = buildProgram({ ...ALL, copies: 1 });
    const interval = text.slice(text.indexOf('interval:s:1'), text.indexOf('END'));
    const end = text.slice(text.indexOf('END'));
    for (const m of [MAPS.exits, MAPS.exitNs, MAPS.faults, MAPS.faultRegions, MAPS.handlerCalls, MAPS.handlerNs]) {
      expect(interval).toContain(`print(${m});`);
      expect(end).toContain(`print(${m});`);
      expect(end).toContain(`clear(${m});`);
    }
    expect(interval).toContain(`printf("${MARK.begin} %lu\\n", nsecs);`);
    expect(end).toContain(`printf("${MARK.final} %lu\\n", nsecs);`);
    expect(text).toContain(`BEGIN { printf("${MARK.attached} %lu\\n", nsecs); }`);
    // temporaries are cleared too, so bpftrace's own exit dump prints nothing
    for (const t of ['@exit_start', '@h0_start']) expect(end).toContain(`clear(${t});`);
  });

  it('no per-event output on the hot path unless the detail stream is asked for', () => {
    const hot = (text: string): string => text.slice(0, text.indexOf('interval:'));
    expect(hot(buildProgram(ALL).text)).not.toMatch(/printf\(".*exitscope:exit/);
    const detail = buildProgram({ ...ALL, detailPerInterval: 7 }).text;
    expect(detail).toContain(`${MAPS.detailSent} < 7`);
    expect(detail).toContain(`${MAPS.detailSent} = 0;`); // reset every interval: a rate limit, not a total
  });

  it('chooses interval:s or interval:ms', () => {
    expect(buildProgram({ ...ALL, intervalMs: 2000 }).text).toContain('interval:s:2\n');
    expect(buildProgram({ ...ALL, intervalMs: 250 }).text).toContain('interval:ms:250\n');
  });

  it('puts pid and reason filters in the kernel as numbers', () => {
    const { text } = buildProgram({ ...ALL, pids: [1234, 99], reasons: [123] });
    expect(text).toContain('tracepoint:kvm:kvm_exit /(pid == 1234 || pid == 99) && (args->exit_reason == 123)/');
    expect(text).toContain('tracepoint:kvm:kvm_page_fault /(pid == 1234 || pid == 99)/');
    expect(text).toContain('kprobe:kvm_tdp_page_fault /(pid == 1234 || pid == 99)/');
  });

  it('handler names come from the allow-list only, by index in the keys', () => {
    const { text, handlers } = buildProgram({ ...ALL, handlers: [HANDLERS.tdp[0]!, HANDLERS.shadow[0]!] });
    expect(handlers).toEqual([HANDLERS.tdp[0], HANDLERS.shadow[0]]);
    expect(text).toContain(`${MAPS.handlerCalls}0[pid, 1] = count();`);
    expect(() => buildProgram({ ...ALL, handlers: ['vfs_read'] })).toThrow(/unknown handler/);
    expect(() => buildProgram({ ...ALL, handlers: ['kvm_tdp_page_fault { system("id") }'] })).toThrow(/unknown handler/);
  });

  it.each([
    ['interval 0', { intervalMs: 0 }],
    ['interval 1.5', { intervalMs: 1.5 }],
    ['interval NaN', { intervalMs: Number.NaN }],
    ['pid 0', { pids: [0] }],
    ['pid -1', { pids: [-1] }],
    ['pid 2.5', { pids: [2.5] }],
    ['pid beyond pid_max', { pids: [4_194_305] }],
    ['reason beyond u32', { reasons: [2 ** 32] }],
    ['reason -1', { reasons: [-1] }],
    ['detail rate 0', { detailPerInterval: 0 }],
  ] as const)('refuses %s', (_, bad) => {
    expect(() => buildProgram({ ...ALL, ...bad } as ProgramOptions)).toThrow(RangeError);
  });

  it('a program without latency has no kvm_entry probe; without faults no kvm_page_fault probe', () => {
    const { text } = buildProgram({ intervalMs: 1000, latency: false, pageFaults: false, handlers: [] });
    expect(text).not.toContain('kvm_entry');
    expect(text).not.toContain('kvm_page_fault');
    expect(text).not.toContain('kprobe:');
    expect(text).toContain(`${MAPS.exits}0[pid, tid, $isa, $reason] = count();`);
    expect(text).not.toContain('sched_process_exit'); // no start times to lose
  });
});

describe('buildProgram: exit counts by VM (exitsByThread false: the exporter without --metrics-vcpu)', () => {
  const byThread = buildProgram(ALL).text;
  const byVm = buildProgram({ ...ALL, exitsByThread: false }).text;

  it('keys every copy of @exits by [pid, 0, isa, reason], tid 0 standing for the whole VM; nothing else changes', () => {
    for (let c = 0; c < COPIES; c++) {
      expect(byVm).toContain(`${MAPS.exits}${c}[pid, 0, $isa, $reason] = count();`);
      expect(byThread).toContain(`${MAPS.exits}${c}[pid, tid, $isa, $reason] = count();`);
    }
    expect(byVm).not.toContain(`[pid, tid, $isa, $reason]`);
    // the latency's start time stays per thread (a vCPU's exit and its entry), and is dropped with the thread
    expect(byVm).toContain('@exit_start[tid] = (nsecs, ((uint64)$isa << 32) | $reason);');
    expect(byVm).toContain('delete(@exit_start[tid]);');
    // the only difference is the key of @exits
    const differ = byVm.split('\n').filter((l, i) => l !== byThread.split('\n')[i]);
    expect(differ).toHaveLength(COPIES);
    expect(differ.every((l) => l.includes(`[pid, 0, $isa, $reason]`))).toBe(true);
  });

  it('the default (and true) keeps the thread: the stream of top, run, serve is unchanged', () => {
    expect(buildProgram({ ...ALL, exitsByThread: true }).text).toBe(byThread);
  });
});

describe('buildProgram: copies rotated by epoch (bounded maps)', () => {
  const { text } = buildProgram(ALL);
  const probe = (name: string): string => {
    const at = text.indexOf(`${name}\n{`);
    expect(at, name).toBeGreaterThanOrEqual(0);
    return text.slice(at, text.indexOf('\n}\n', at) + 3);
  };

  it(`${COPIES} copies by default; every counting update is in the copy of the epoch, after one lookup of it`, () => {
    for (const [p, maps] of [
      ['tracepoint:kvm:kvm_exit', [MAPS.exits]],
      ['tracepoint:kvm:kvm_entry', [MAPS.exitNs]],
      ['tracepoint:kvm:kvm_page_fault', [MAPS.faults, MAPS.faultRegions]],
      ['kretprobe:kvm_tdp_page_fault /@h0_start[tid]/', [MAPS.handlerCalls, MAPS.handlerNs]],
    ] as const) {
      const body = probe(p);
      expect(body.match(new RegExp(`= ${EPOCH.active};`, 'g')), p).toHaveLength(1);
      for (const m of maps) {
        for (let c = 0; c < COPIES; c++) expect(body, `${p} ${m}${c}`).toContain(`${m}${c}[`);
        expect(body).not.toContain(`${m}[`);
      }
    }
  });

  it('the interval probe: for each epoch, prints the active copy and the one it left (then clears that one), or only the active one after a wait', () => {
    const body = probe('interval:s:1');
    for (let e = 0; e < COPIES; e++) {
      const prev = (e + COPIES - 1) % COPIES;
      const next = (e + 1) % COPIES;
      const closing = body.indexOf(`printf("${MARK.begin} %lu ${e} ${prev}\\n", $now);`);
      const alone = body.indexOf(`printf("${MARK.begin} %lu ${e} -\\n", $now);`);
      expect(closing, `epoch ${e}`).toBeGreaterThan(0);
      expect(alone, `epoch ${e}`).toBeGreaterThan(closing);
      const both = body.slice(closing, alone);
      const end = both.indexOf(`printf("${MARK.end}\\n");`);
      for (const m of COUNTING_MAPS) {
        // printed inside the frame, cleared after it: bpftrace does both in this order
        expect(both.indexOf(`print(${m}${e});`)).toBeLessThan(end);
        expect(both.indexOf(`print(${m}${prev});`)).toBeLessThan(end);
        expect(both.indexOf(`clear(${m}${prev});`)).toBeGreaterThan(end);
        expect(both).not.toContain(`clear(${m}${e});`);
      }
      // the pending flag is set (to the marker's time) before the clears and cleared after them, in the same queue
      const flag = `${EPOCH.pending}${prev}`;
      expect(both.indexOf(`${flag} = $now;`)).toBeGreaterThan(end);
      expect(both.indexOf(`clear(${flag});`)).toBeGreaterThan(Math.max(...COUNTING_MAPS.map((m) => both.indexOf(`clear(${m}${prev});`))));
      // the epoch moves only into a copy whose clear is done
      expect(body).toContain(`if (${EPOCH.pending}${next} == 0) {\n      ${EPOCH.active} = ${next};\n      ${EPOCH.closing} = 1;\n    } else {\n      ${EPOCH.closing} = 0;`);
    }
  });

  it('the interval\'s marker and its pending flag share one time, read once (END\'s marker names the interval by it)', () => {
    const body = probe('interval:s:1');
    expect(body.match(/nsecs/g)).toEqual(['nsecs']);
    expect(body.indexOf('$now = nsecs;')).toBeLessThan(body.indexOf('if ('));
  });

  it('END prints every copy once more, then clears all of them and the epoch state', () => {
    const end = text.slice(text.indexOf('END\n{'));
    // first its marker, with each copy's pending time as the kernel has it now
    expect(end).toContain(`printf("${MARK.final} %lu${' %lu'.repeat(COPIES)}\\n", nsecs${Array.from({ length: COPIES }, (_, c) => `, ${EPOCH.pending}${c}`).join('')});`);
    expect(end.indexOf(`printf("${MARK.final}`)).toBeLessThan(end.indexOf('print('));
    for (const m of COUNTING_MAPS) for (let c = 0; c < COPIES; c++) {
      expect(end).toContain(`print(${m}${c});`);
      expect(end).toContain(`clear(${m}${c});`);
    }
    for (const s of [EPOCH.active, EPOCH.closing, ...Array.from({ length: COPIES }, (_, c) => `${EPOCH.pending}${c}`)]) expect(end).toContain(`clear(${s});`);
  });

  it('a thread that exits drops its start times (they would stay forever otherwise)', () => {
    expect(probe('tracepoint:sched:sched_process_exit')).toContain('delete(@exit_start[tid]);');
    expect(probe('tracepoint:sched:sched_process_exit')).toContain('delete(@h0_start[tid]);');
  });

  it('reads the tracepoint fields once, before the branches (the verifier refuses a ctx pointer moved across them)', () => {
    const exit = probe('tracepoint:kvm:kvm_exit');
    expect(exit.match(/args->/g)).toHaveLength(2);
    expect(exit.indexOf('args->')).toBeLessThan(exit.indexOf('if ('));
    expect(probe('tracepoint:kvm:kvm_page_fault').match(/args->/g)).toHaveLength(2);
  });

  it('at 1 s and above the epoch moves every interval: no interval counter in the program', () => {
    for (const intervalMs of [1000, 1500, 15000]) {
      const p = buildProgram({ ...ALL, intervalMs });
      expect(p.rotateEvery).toBe(1);
      expect(p.text).not.toContain(EPOCH.tick);
    }
  });

  it.each([
    [1000, 1],
    [60000, 1],
    [999, 2],
    [500, 2],
    [300, 4],
    [250, 4],
    [100, 10],
    [10, 100],
  ])('-i %d: the epoch moves every %d interval(s) (at most once a second)', (intervalMs, every) => {
    expect(rotateEvery(intervalMs)).toBe(every);
    expect(every * intervalMs).toBeGreaterThanOrEqual(ROTATION_MS);
    expect(buildProgram({ ...ALL, intervalMs }).rotateEvery).toBe(every);
  });

  it('below 1 s (-i 250): each epoch prints the copy it left once, at its first interval, and moves on at the 4th, only into a free copy', () => {
    const intervalProbe = (text: string, name: string): string => {
      const at = text.indexOf(`${name}\n{`);
      expect(at, name).toBeGreaterThanOrEqual(0);
      return text.slice(at, text.indexOf('\n}\n', at) + 3);
    };
    const p = buildProgram({ ...ALL, intervalMs: 250 });
    const body = intervalProbe(p.text, 'interval:ms:250');
    // the intervals since the last move are counted once, before the branches
    expect(body.match(new RegExp(`${EPOCH.tick} = ${EPOCH.tick} \\+ 1;`, 'g'))).toHaveLength(1);
    expect(body.indexOf(`${EPOCH.tick} = ${EPOCH.tick} + 1;`)).toBeLessThan(body.indexOf('if ('));
    for (let e = 0; e < COPIES; e++) {
      const next = (e + 1) % COPIES;
      expect(body).toContain(`if (${EPOCH.tick} >= 4 && ${EPOCH.pending}${next} == 0) {\n      ${EPOCH.active} = ${next};\n      ${EPOCH.closing} = 1;\n      ${EPOCH.tick} = 0;\n    } else {\n      ${EPOCH.closing} = 0;\n    }`);
    }
    // the prints and clears are the ones of every interval (the closing flag says which)
    const every1 = intervalProbe(buildProgram({ ...ALL, intervalMs: 1000 }).text, 'interval:s:1');
    for (const m of COUNTING_MAPS) for (let c = 0; c < COPIES; c++) for (const op of ['print', 'clear']) {
      const count = (t: string): number => t.split(`${op}(${m}${c});`).length - 1;
      expect(count(body), `${op} ${m}${c}`).toBe(count(every1));
      expect(count(body)).toBeGreaterThan(0);
    }
    // END forgets the counter with the rest of the epoch's state
    expect(p.text.slice(p.text.indexOf('END\n{'))).toContain(`clear(${EPOCH.tick});`);
  });

  it.each([0, 9, 2.5])('refuses %s copies', (copies) => {
    expect(() => buildProgram({ ...ALL, copies })).toThrow(RangeError);
  });
});
