import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROBE_SCRIPTS, probeScriptText } from '../../src/probes/catalog.js';
import { HANDLERS } from '../../src/probes/capabilities.js';
import { buildProgram, MAPS, MARK, type ProgramOptions } from '../../src/probes/program.js';

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
  it('prints every map between the markers each interval and once more at END, then clears them', () => {
    const { text } = buildProgram(ALL);
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
    expect(text).toContain(`${MAPS.handlerCalls}[pid, 1] = count();`);
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
    expect(text).toContain(`${MAPS.exits}[pid, tid, args->isa, args->exit_reason] = count();`);
  });
});
