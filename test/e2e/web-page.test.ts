/**
 * The live web page in a real browser (Chromium via playwright-core), served by
 * a real StreamServer fed by a lab recording: it shows the same totals, the
 * reasons, the VM selector and the chart; the token comes from the URL fragment
 * or a prompt; a flame snapshot asked for with the button arrives and renders.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTree } from '../../src/flame/tree.js';
import type { Message } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { livePage } from '../../src/server/live-page.js';
import { StreamServer } from '../../src/server/server.js';
import { profileOf } from '../unit/support/flame-fixtures.js';

const messages: Message[] = parseRecording(readFileSync(join(import.meta.dirname, '../fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages;
const total = messages.reduce((n, m) => (m.type === 'snapshot' ? n + m.exits.reduce((a, e) => a + e.n, 0) : n), 0);
let browser: Browser;
let server: StreamServer;
let port: number;
let flameAsked = 0;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  server = new StreamServer({
    host: '127.0.0.1',
    port: 0,
    tokens: { control: 'c-token', read: 'r-token' },
    page: livePage,
    onFlameRequest: (seconds) => {
      flameAsked++;
      setTimeout(() => {
        server.broadcast({ type: 'flame', state: 'sampling', seconds });
        const p = profileOf('npf-npt-on');
        server.broadcast({ type: 'flame', state: 'done', samples: p.samples, tree: buildTree(p) });
      }, 100);
      return undefined;
    },
  });
  port = (await server.listen()).port;
  for (const m of messages) server.publish(m);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the live page', () => {
  it('token in the fragment: the totals, reasons, VM and chart of the stream; the flame button asks and the result renders', { timeout: 60_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    const errors: string[] = [];
    const external: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => {
      if (!r.url().startsWith(`http://127.0.0.1:${port}`) && !r.url().startsWith('data:')) external.push(r.url());
    });
    const res = await page.goto(`http://127.0.0.1:${port}/#token=c-token`);
    // only our own script may run, talk only to us, and nobody may frame the page
    const csp = (await res?.allHeaders())?.['content-security-policy'] ?? '';
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    await expect.poll(() => page.locator('#total').textContent(), { timeout: 10_000 }).toBe(String(total));
    expect(await page.locator('#conn').textContent()).toBe('connected (control)');
    expect(await page.locator('#reasons tr').count()).toBeGreaterThan(2);
    expect(await page.locator('#reasons').textContent()).toContain('IOIO');
    const vms = await page.locator('#vm option').allTextContents();
    expect(vms[0]).toBe('all VMs');
    expect(vms.some((v) => /exitscope-workload \(pid \d+\)/.test(v))).toBe(true);
    expect(await page.locator('#chart canvas').count()).toBeGreaterThan(0);
    // the end message follows the last snapshot and may be drawn a frame later than the totals
    await expect.poll(() => page.locator('#ended').textContent()).toContain('stream ended');
    // one VM selected: the same total (the recording has one VM)
    await page.locator('#vm').selectOption({ index: 1 });
    await expect.poll(() => page.locator('#total').textContent()).toBe(String(total));

    await page.locator('#flame-button').click();
    await page.waitForSelector('body[data-flame="done"]', { timeout: 10_000 });
    expect(flameAsked).toBe(1);
    expect(await page.locator('#flame g.frame[name="direct_page_fault"]').count()).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  });

  it('no token in the URL: a prompt asks for it; a read-only token may not ask for flames', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    page.on('dialog', (d) => void d.accept('r-token'));
    await page.goto(`http://127.0.0.1:${port}/`);
    await expect.poll(() => page.locator('#conn').textContent(), { timeout: 10_000 }).toBe('connected (read-only)');
    await expect.poll(() => page.locator('#total').textContent()).toBe(String(total));
    expect(await page.locator('#flame-button').isDisabled()).toBe(true);
    await page.close();
  });

  it('names from the stream are text, never HTML: a VM named like markup stays its text, no element or script comes of it', { timeout: 60_000 }, async () => {
    const markup = '<img src=x onerror="window.__pwned=1"><b>bold</b>';
    const hostile = new StreamServer({ host: '127.0.0.1', port: 0, page: livePage });
    const at = (await hostile.listen()).port;
    try {
      for (const m of messages) hostile.publish(m.type === 'hello' ? { ...m, host: `${markup}\u202e` } : m.type === 'vm' ? { ...m, name: `${markup}\u202e` } : m);
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${at}/`);
      await expect.poll(() => page.locator('#total').textContent(), { timeout: 10_000 }).toBe(String(total));
      const vms = await page.locator('#vm option').allTextContents();
      expect(vms.some((v) => v.startsWith(`${markup}\\u202e (pid `))).toBe(true);
      expect(await page.locator('#host').textContent()).toContain(`${markup}\\u202e`);
      expect(await page.locator('img, b:not(#total)').count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await hostile.close();
    }
  });
});
