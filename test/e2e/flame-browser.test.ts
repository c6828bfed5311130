/**
 * The flame outputs in a real browser (Debian's Chromium, driven by
 * playwright-core): the SVG our renderer writes and the HTML page with
 * d3-flame-graph, both made from a real lab capture. Frames are found by their
 * titles and their sample counts checked against bpftrace's raw output.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/flame/html.js';
import { renderSvg } from '../../src/flame/svg.js';
import { profileOf, rawSamples } from '../unit/support/flame-fixtures.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'exitscope-flame-browser-'));

/** Samples whose kernel stack holds a frame matching `re`, counted on the raw bpftrace keys. */
function rawCount(name: 'npf-npt-on' | 'npf-npt-off', re: RegExp): number {
  return rawSamples(name)
    .filter((s) => s.kernel.some((k) => re.test(k)) || s.user.some((u) => re.test(u)))
    .reduce((n, s) => n + s.count, 0);
}

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('the SVG flame graph in Chromium', () => {
  it('shows every frame with its title; the TDP fault path is there with the raw sample count; search matches', { timeout: 60_000 }, async () => {
    const profile = profileOf('npf-npt-on');
    const file = join(dir, 'npf.svg');
    writeFileSync(file, renderSvg(profile));
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    const want = rawCount('npf-npt-on', /^direct_page_fault$/);
    expect(want).toBeGreaterThan(0);
    const frame = page.locator('g.f', { has: page.locator('title', { hasText: /^direct_page_fault \(/ }) });
    expect(await frame.count()).toBeGreaterThan(0);
    const titles = await frame.locator('title').allTextContents();
    const shown = titles.reduce((n, t) => n + Number(/\((\d+) samples/.exec(t)?.[1] ?? 0), 0);
    expect(shown).toBe(want);
    const box = await frame.first().locator('rect').boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(1);
    // Search (click, then the prompt): the matched share is the raw share of stacks with a match
    page.once('dialog', (d) => void d.accept('page_fault'));
    await page.locator('#search').click();
    const matched = await page.locator('#matched').textContent();
    const share = (100 * rawCount('npf-npt-on', /page_fault/)) / profile.samples;
    expect(matched).toBe(`Matched: ${share.toFixed(1)}%`);
    expect(requests.every((u) => u.startsWith('file:') || u.startsWith('data:'))).toBe(true);
    await page.close();
  });
});

describe('the HTML page (d3-flame-graph, bundled) in Chromium', () => {
  it('renders offline; the shadow-paging handler frame is there with the raw count; the search box highlights', { timeout: 60_000 }, async () => {
    const profile = profileOf('npf-npt-off');
    const file = join(dir, 'npf-off.html');
    writeFileSync(file, renderHtml(profile));
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    await expect.poll(() => page.locator('g.frame').count(), { timeout: 10_000 }).toBeGreaterThan(10);
    const want = rawCount('npf-npt-off', /^paging64_page_fault$/);
    expect(want).toBeGreaterThan(0);
    const titles = await page.locator('g.frame[name="paging64_page_fault"] title').allTextContents();
    expect(titles.length).toBeGreaterThan(0);
    expect(titles.reduce((n, t) => n + Number(/, (\d+) samples\)/.exec(t)?.[1] ?? 0), 0)).toBe(want);
    await page.locator('#search').fill('paging64_page_fault');
    await expect.poll(() => page.locator('#matched').textContent(), { timeout: 5_000 }).toMatch(/^Matched: \d+\.\d%$/);
    // matches are highlighted in d3-flame-graph's colour, the rest keep their kind's
    await expect.poll(() => page.locator('g.frame[name="paging64_page_fault"] rect').first().getAttribute('fill'), { timeout: 5_000 }).toMatch(/^(#E600E6|rgb\(230, ?0, ?230\))$/i);
    expect(await page.locator('g.frame[name="kvm_vcpu_ioctl"] rect').first().getAttribute('fill')).not.toMatch(/E600E6/i);
    expect(await page.locator('#title').textContent()).toBe('exitscope flame: all VMs');
    expect(errors).toEqual([]);
    expect(requests.every((u) => u.startsWith('file:') || u.startsWith('data:'))).toBe(true);
    await page.close();
  });
});
