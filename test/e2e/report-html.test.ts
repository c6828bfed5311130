/**
 * `exitscope report FILE -f html` in a real browser (Debian's Chromium via playwright-core), opened
 * from a file:// URL as a user opens an attachment: the numbers it shows are those of
 * `report -f json` of the same file (the report's section, from data-* attributes, and the web
 * page's panels, computed in the browser by the same model code), no request leaves the page, no
 * script error, and a VM named like markup stays text. Saves docs/web/report-html.png.
 * The CLI runs as a process (bundled from src/ by bundleScript); the page bundle is dist/bundles.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/report.js';
import { bundleScript, removeBundle } from '../unit/support/bundle-script.js';

const REPO = join(import.meta.dirname, '../..');
const FIXTURES = join(REPO, 'test/fixtures/recordings');
let browser: Browser;
let bundle: string;
let cli: string;
let dir: string;

beforeAll(async () => {
  bundle = await bundleScript(join(REPO, 'test/unit/support/cli-main.ts'));
  dir = mkdtempSync(join(tmpdir(), 'report-html-'));
  // the CLI finds the page bundle as an installed exitscope does: dist/bundles beside its package.json
  const root = join(dir, 'package');
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'package.json'), '{}');
  symlinkSync(join(REPO, 'dist/bundles'), join(root, 'dist/bundles'));
  cli = join(root, 'cli.mjs');
  copyFileSync(bundle, cli);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  removeBundle(bundle);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function exitscope(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The file opened from disk; every request other than the file itself, and every script error. */
async function open(file: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const url = `file://${file}`;
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => {
    if (r.url() !== url) requests.push(r.url());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text()); // CSP violations are reported here
  });
  await page.goto(url);
  // the page's static mode has applied the embedded recording
  await expect.poll(() => page.locator('#state').textContent(), { timeout: 10_000 }).toBe('REPORT');
  return { page, requests, errors };
}

describe.each(['run-mix-3-vcpus-2-npt-on.jsonl', 'run-npf-1031-npt-off.jsonl'])('report %s -f html in Chromium', (name) => {
  it('shows the numbers of report -f json, makes no request, runs without error', { timeout: 60_000 }, async () => {
    const json = exitscope('report', join(FIXTURES, name), '-f', 'json');
    expect(json.status).toBe(0);
    const want = JSON.parse(json.stdout) as Report;
    const file = join(dir, `${name}.html`);
    const html = exitscope('report', join(FIXTURES, name), '-f', 'html', '-o', file);
    expect(html.status).toBe(0);
    expect(html.stderr).toContain(`HTML report written to ${file}`);

    const { page, requests, errors } = await open(file);
    // the report's section: each reason's exact count, the totals
    const rows = await page.locator('#report-exits tbody tr').evaluateAll((trs) => trs.map((tr) => ({ isa: Number(tr.getAttribute('data-isa')), reason: Number(tr.getAttribute('data-reason')), count: Number(tr.getAttribute('data-count')), text: tr.textContent })));
    expect(rows.map(({ isa, reason, count }) => ({ isa, reason, count }))).toEqual(want.exits.map((e) => ({ isa: e.isa, reason: e.reason, count: e.count })));
    for (const [i, e] of want.exits.entries()) expect(rows[i]?.text).toContain(e.name);
    expect(await page.locator('#report-total-exits').textContent()).toBe(String(want.totalExits));
    expect(await page.locator('#report-lost-events').textContent()).toBe(String(want.lostEvents));
    expect(Number(await page.locator('#report-page-faults').getAttribute('data-count'))).toBe(want.pageFaults.count);
    expect(Number(await page.locator('#report-page-faults').getAttribute('data-mmio'))).toBe(want.pageFaults.mmio);
    expect(Number(await page.locator('#report-tdp').getAttribute('data-count'))).toBe(want.tdpFaults.count);
    const vms = await page.locator('#report-vms tbody tr').evaluateAll((trs) => trs.map((tr) => [Number(tr.getAttribute('data-pid')), Number(tr.getAttribute('data-exits'))]));
    expect(vms).toEqual(want.vms.map((v) => [v.pid, v.totalExits]));
    const hints = await page.locator('#report-hints li').allTextContents();
    expect(hints.length).toBe(want.hints.length);
    for (const [i, h] of want.hints.entries()) expect(hints[i]).toContain(h.message);
    expect(await page.locator('#report-chart-total svg polyline, #report-chart-total svg circle').count()).toBe(1);
    // the embedded Report is report -f json's
    expect(JSON.parse((await page.locator('#exitscope-report').textContent()) ?? '')).toEqual(want);

    // the web page's panels over the whole recording: the same numbers, computed in the browser
    expect(await page.locator('#total').getAttribute('data-value')).toBe(String(want.totalExits));
    const shown = await page.locator('#reasons tr').evaluateAll((trs) => trs.map((tr): [string | null, number] => [tr.getAttribute('data-key'), Number(tr.querySelector('[data-col="total"]')?.getAttribute('data-value'))]));
    expect(new Map(shown)).toEqual(new Map(want.exits.map((e) => [`${e.isa},${e.reason}`, e.count])));

    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    if (name.startsWith('run-mix')) {
      mkdirSync(join(REPO, 'docs/web'), { recursive: true });
      await page.screenshot({ path: join(REPO, 'docs/web/report-html.png'), fullPage: true });
    }
    await page.close();
  });
});

describe('a hostile recording in the HTML report', () => {
  it('a host and VM named like markup stay text: no element, no script comes of them, no request', { timeout: 60_000 }, async () => {
    const markup = '</script><script>window.__pwned=1</script><img src="http://127.0.0.1:9/x" onerror="window.__pwned=2">';
    const lines = readFileSync(join(FIXTURES, 'run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; host?: string; name?: string });
    const hostile = lines.map((m) => (m.type === 'hello' ? { ...m, host: markup } : m.type === 'vm' ? { ...m, name: markup } : m));
    const rec = join(dir, 'hostile.jsonl');
    writeFileSync(rec, `${hostile.map((m) => JSON.stringify(m)).join('\n')}\n`);
    const file = join(dir, 'hostile.html');
    expect(exitscope('report', rec, '-f', 'html', '-o', file).status).toBe(0);
    const { page, requests, errors } = await open(file);
    expect(await page.locator('#report-title').textContent()).toContain(markup);
    expect(await page.locator('#report-vms tbody').textContent()).toContain(markup);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
