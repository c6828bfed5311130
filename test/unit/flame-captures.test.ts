/**
 * Folding, summary and SVG on real stacks captured in the lab. The expectations
 * come from bpftrace's raw output (counted here independently of the folding
 * code) and from what the kernel's own code paths are; the folded files the
 * capture wrote are the goldens.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFolded, toFolded } from '../../src/flame/folded.js';
import { summarize } from '../../src/flame/summary.js';
import { renderSvg } from '../../src/flame/svg.js';
import { FLAME_CAPTURES, FLAME_FIX, profileOf, provenance, rawSamples } from './support/flame-fixtures.js';

const svgFrames = (svg: string) =>
  [...svg.matchAll(/<g class="f" data-name="([^"]*)" data-kind="(\w+)" data-x="(\d+)" data-samples="(\d+)"><title>([^<]*)<\/title><rect x="([\d.]+)" y="(\d+)" width="([\d.]+)"/g)].map((m) => ({
    name: m[1] as string,
    kind: m[2] as string,
    samples: Number(m[4]),
    title: m[5] as string,
    x: Number(m[6]),
    y: Number(m[7]),
    w: Number(m[8]),
  }));

describe.each(FLAME_CAPTURES)('capture %s', (name) => {
  const raw = rawSamples(name);
  const p = profileOf(name);

  it('has provenance and real samples', () => {
    const prov = provenance(name);
    expect(prov.kernel).toMatch(/^\d+\.\d+/);
    expect(prov.bpftrace).toMatch(/bpftrace v0\.\d+/);
    expect(prov.command).toContain('flame-during.sh');
    expect(raw.length).toBeGreaterThan(10);
  });

  it('folds to the folded file the capture wrote (golden), losing no sample', () => {
    const golden = readFileSync(join(FLAME_FIX, `${name}.folded`), 'utf8');
    expect(toFolded(p)).toBe(golden);
    const rawTotal = raw.reduce((n, s) => n + s.count, 0);
    expect(p.samples).toBe(rawTotal);
    expect(parseFolded(golden).reduce((n, s) => n + s.count, 0)).toBe(rawTotal);
  });

  it('keeps each raw stack in order: user frames then kernel frames, outermost first', () => {
    const lines = new Set(toFolded(p).split('\n').map((l) => l.slice(0, l.lastIndexOf(' '))));
    for (const s of raw.slice(0, 50)) {
      const tail = [...[...s.user].reverse(), ...[...s.kernel].reverse().map((k) => `${k}_[k]`)].join(';');
      expect([...lines].some((l) => (tail ? l.endsWith(`;${tail}`) : true) && l.includes(`[${s.comm}]`))).toBe(true);
    }
  });

  it('renders the SVG the capture wrote (golden, compared frame by frame: name, kind, samples, position)', () => {
    const golden = svgFrames(readFileSync(join(FLAME_FIX, `${name}.svg`), 'utf8'));
    const now = svgFrames(renderSvg(p));
    const key = (f: ReturnType<typeof svgFrames>[number]) => `${f.y}|${f.x.toFixed(1)}|${f.w.toFixed(1)}|${f.kind}|${f.samples}|${f.name}`;
    expect(now.map(key).sort()).toEqual(golden.map(key).sort());
  });

  it('the SVG has one titled frame per tree node, sample counts as in the raw output, children inside parents', () => {
    const f = svgFrames(renderSvg(p, { minWidth: 0 }));
    const root = f.find((x) => x.name === 'all');
    expect(root?.samples).toBe(p.samples);
    // independently: samples whose kernel stack holds kvm_arch_vcpu_ioctl_run, from the raw keys
    const inRun = raw.filter((s) => s.kernel.includes('kvm_arch_vcpu_ioctl_run')).reduce((n, s) => n + s.count, 0);
    const runFrames = f.filter((x) => x.name === 'kvm_arch_vcpu_ioctl_run');
    expect(runFrames.reduce((n, x) => n + x.samples, 0)).toBe(inRun);
    expect(runFrames.every((x) => x.kind === 'kvm')).toBe(true);
    for (const x of f) {
      expect(x.title).toMatch(new RegExp(`^.+ \\(${x.samples} samples, \\d+\\.\\d\\d%\\)$`));
      expect(x.x + x.w).toBeLessThanOrEqual(1190.01);
    }
  });
});

describe('what each capture shows (the acceptance of the flame issue, on recorded data)', () => {
  const top = (name: (typeof FLAME_CAPTURES)[number], n = 12) => summarize(profileOf(name), n);

  it('npf with npt on: the TDP fault path among the top frames, under [exit NPF]', () => {
    const s = top('npf-npt-on');
    const names = s.topTotal.map((f) => f.name);
    expect(names).toContain('kvm_mmu_page_fault');
    expect(names).toContain('direct_page_fault');
    expect(names).not.toContain('paging64_page_fault');
    expect(s.byState.find((x) => x.name === '[exit NPF]')?.share).toBeGreaterThan(0.1);
  });

  it('npf with npt off: the shadow-paging handler, under the #PF intercept', () => {
    const s = top('npf-npt-off');
    const names = s.topTotal.map((f) => f.name);
    expect(names).toContain('kvm_mmu_page_fault');
    expect(names).toContain('paging64_page_fault');
    expect(names).not.toContain('direct_page_fault');
    expect(s.byState.find((x) => x.name === '[exit EXCP_PF]')?.share).toBeGreaterThan(0.1);
  });

  it('io: the port I/O exit path, under [exit IOIO]', () => {
    const s = top('io-npt-on', 15);
    expect(s.topTotal.map((f) => f.name).some((n) => /^(kvm_fast_pio|io_interception|complete_fast_pio_out|kvm_emulate_pio|emulator_pio_out)/.test(n))).toBe(true);
    expect(s.byState.find((x) => x.name === '[exit IOIO]')?.share).toBeGreaterThan(0.1);
    expect(s.topTotal.map((f) => f.name)).not.toContain('kvm_mmu_page_fault');
  });
});
