/**
 * The page's header at parity with the terminal's, in Chromium (playwright-core), against a real
 * StreamServer (no lab): the collector's own CPU and memory are the figures the server sent in its
 * `collector` messages (read from data-value: unrounded), a replay server's page says the replay
 * collects nothing, a report says nothing of a collector; a recording scoped to a cgroup (a copy of
 * a lab recording with hello.filters.cgroup added) shows the scope, as text, live and in the
 * `report -f html` file (its writer's own function); an unscoped one shows none.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { htmlReportOf } from '../../src/commands/report-html.js';
import type { Message } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import type { CollectorStatsMessage } from '../../src/server/client-messages.js';
import { livePage } from '../../src/server/live-page.js';
import { StreamServer, type StreamServerOptions } from '../../src/server/server.js';

const REPO = join(import.meta.dirname, '../..');
const MIX = join(REPO, 'test/fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl');
const messages = parseRecording(readFileSync(MIX, 'utf8')).messages;
/** A path that would be markup if it were ever parsed as HTML. */
const SCOPE_PATH = '/exitscope/run-4242/<img src=x onerror="document.body.dataset.pwned=1">';

/** The lab recording as if recorded under `run --scope`: its hello (only) edited. */
function scoped(ms: readonly Message[]): Message[] {
  return ms.map((m) => (m.type === 'hello' ? { ...m, filters: { ...m.filters, cgroup: { path: SCOPE_PATH, ids: ['4242', '4243'], created: true } } } : m));
}

let browser: Browser;
const servers: StreamServer[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'exitscope-web-header-'));

async function serve(ms: readonly Message[], o: Partial<StreamServerOptions> = {}): Promise<string> {
  const server = new StreamServer({ host: '127.0.0.1', port: 0, page: livePage, ...o });
  servers.push(server);
  const { port } = await server.listen();
  for (const m of ms) server.publish(m);
  return `http://127.0.0.1:${port}/`;
}

async function open(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]');
  return { page, errors };
}

const value = async (page: Page, selector: string): Promise<number> => Number(await page.locator(selector).getAttribute('data-value'));

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the page header: collector cost and scope', () => {
  it("shows the collector's CPU and memory the server sent, and follows the next figures", { timeout: 60_000 }, async () => {
    let stats: Omit<CollectorStatsMessage, 'type'> = { t: 12_000, ms: 2000, cpu: 0.031, rssBytes: 62 * 2 ** 20 + 123_456 };
    const url = await serve(messages, { collectorEveryMs: 50, collectorStats: () => stats });
    const { page, errors } = await open(url);
    await expect.poll(() => page.locator('#collector [data-col=collector-cpu]').count(), { timeout: 10_000 }).toBe(1);
    expect(await value(page, '#collector [data-col=collector-cpu]')).toBe(0.031 * 100);
    expect(await value(page, '#collector [data-col=collector-rss]')).toBe((62 * 2 ** 20 + 123_456) / 2 ** 20);
    expect(await page.locator('#collector').textContent()).toBe('collector3.1% CPU, 62 MiB');
    // the stream has ended (nothing else changes): the next figures still show
    stats = { t: 14_000, ms: 2000, cpu: 1.25, rssBytes: 100 * 2 ** 20 };
    await expect.poll(() => value(page, '#collector [data-col=collector-cpu]'), { timeout: 10_000 }).toBe(125);
    expect(await value(page, '#collector [data-col=collector-rss]')).toBe(100);
    expect(await page.locator('#collector').textContent()).toBe('collector125.0% CPU, 100 MiB');
    // this recording was not scoped: no scope line
    expect(await page.locator('#scope').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('a server that sent nothing yet: "not measured yet"; a replay server: the replay collects nothing', { timeout: 60_000 }, async () => {
    const quiet = await open(await serve(messages));
    await expect.poll(() => quiet.page.locator('#state').textContent(), { timeout: 10_000 }).toBe('STOPPED');
    expect(await quiet.page.locator('#collector dd').textContent()).toBe('not measured yet');
    const replay = await open(await serve(messages, { source: 'replay' }));
    await expect.poll(() => replay.page.locator('#collector dd').textContent(), { timeout: 10_000 }).toBe('replay: nothing is collected');
    expect(await replay.page.locator('#collector [data-value]').count()).toBe(0);
    expect([...quiet.errors, ...replay.errors]).toEqual([]);
  });

  it('a scoped recording: the header says the cgroup, as text (served live)', { timeout: 60_000 }, async () => {
    const { page, errors } = await open(await serve(scoped(messages), { source: 'replay' }));
    await expect.poll(() => page.locator('#scope dd').textContent(), { timeout: 10_000 }).toBe(`cgroup ${SCOPE_PATH}`);
    expect(await page.locator('#scope dt').textContent()).toBe('scoped to');
    // before the probes, as in the terminal
    const ids = await page.$$eval('#facts > div', (ds) => ds.map((d) => d.id || d.querySelector('dt')?.textContent));
    expect(ids.indexOf('scope')).toBe(ids.indexOf('probes') - 1);
    expect(await page.locator('#facts img').count()).toBe(0);
    expect(await page.locator('body').getAttribute('data-pwned')).toBeNull();
    expect(errors).toEqual([]);
  });

  it('report -f html of a scoped recording: the scope shows, no collector fact', { timeout: 60_000 }, async () => {
    const file = join(tmp, 'scoped.jsonl');
    writeFileSync(file, `${readFileSync(MIX, 'utf8').split('\n').map((line, i) => (i === 0 ? JSON.stringify(scoped([JSON.parse(line) as Message])[0]) : line)).join('\n')}`);
    const html = join(tmp, 'scoped.html');
    writeFileSync(html, htmlReportOf(file)); // what `report FILE -f html` writes
    const { page, errors } = await open(`file://${html}`);
    expect(await page.locator('#state').textContent()).toBe('REPORT');
    expect(await page.locator('#scope dd').textContent()).toBe(`cgroup ${SCOPE_PATH}`);
    expect(await page.locator('#collector').count()).toBe(0);
    expect(await page.locator('#facts').textContent()).not.toContain('collector');
    expect(await page.locator('#facts img').count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
