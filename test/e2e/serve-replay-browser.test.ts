/**
 * `exitscope serve --replay` to the web page in Chromium: the CLI as a process serves a lab
 * recording (nothing traced); the page at / connects, the replay starts with it, and the page ends
 * with the recording's totals (those of `report -f json`), the stream marked ended; a flame request
 * is refused with a reason (nothing live to sample). No request leaves for anywhere but the server.
 * Saves docs/web/serve-replay.png.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Report } from '../../src/report/report.js';
import { bundleScript, removeBundle } from '../unit/support/bundle-script.js';

const REPO = join(import.meta.dirname, '../..');
const RECORDING = join(REPO, 'test/fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl');
let browser: Browser;
let bundle: string;
let cli: string;
let dir: string;
let server: ChildProcess | undefined;

beforeAll(async () => {
  bundle = await bundleScript(join(REPO, 'test/unit/support/cli-main.ts'));
  dir = mkdtempSync(join(tmpdir(), 'serve-replay-browser-'));
  // the server finds the page bundle as an installed exitscope does: dist/bundles beside its package.json
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'package.json'), '{}');
  symlinkSync(join(REPO, 'dist/bundles'), join(dir, 'dist/bundles'));
  cli = join(dir, 'cli.mjs');
  copyFileSync(bundle, cli);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
}, 60_000);

afterAll(async () => {
  server?.kill('SIGKILL');
  await browser?.close();
  removeBundle(bundle);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('the page gets the replay: the recording totals of report -f json, the end; flames refused; Ctrl-C stops the server (0)', { timeout: 60_000 }, async () => {
  const want = JSON.parse(spawnSync(process.execPath, [cli, 'report', RECORDING, '-f', 'json'], { encoding: 'utf8' }).stdout) as Report;
  const p = spawn(process.execPath, [cli, 'serve', '0', '--replay', RECORDING, '--speed', '20'], { stdio: ['ignore', 'ignore', 'pipe'] });
  server = p;
  let stderr = '';
  p.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const closed = new Promise<number | null>((r) => p.on('close', r));
  await expect.poll(() => /serving the stream at ws:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr)?.[1], { timeout: 15_000 }).toBeTruthy();
  const port = /serving the stream at ws:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr)?.[1];

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const outside: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(`http://127.0.0.1:${port}/`) && !r.url().startsWith('data:')) outside.push(r.url());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${port}/`);
  await expect.poll(() => page.locator('#total').getAttribute('data-value'), { timeout: 20_000 }).toBe(String(want.totalExits));
  await expect.poll(() => page.locator('#ended').textContent(), { timeout: 10_000 }).toContain('stream ended (complete)');
  expect(stderr).toMatch(/replay finished \(\d+ messages\)/);
  const totals = await page.locator('#reasons tr').evaluateAll((trs) => trs.map((tr): [string | null, number] => [tr.getAttribute('data-key'), Number(tr.querySelector('[data-col="total"]')?.getAttribute('data-value'))]));
  expect(new Map(totals)).toEqual(new Map(want.exits.map((e) => [`${e.isa},${e.reason}`, e.count])));
  mkdirSync(join(REPO, 'docs/web'), { recursive: true });
  await page.screenshot({ path: join(REPO, 'docs/web/serve-replay.png'), fullPage: true });

  // a flame request over the page's own socket is refused: there is nothing live to sample
  const refusal = await page.evaluate(
    (u) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(u);
        ws.onmessage = (ev) => {
          const m = JSON.parse(String(ev.data)) as { type: string; message?: string };
          if (m.type === 'welcome') ws.send(JSON.stringify({ type: 'flame', seconds: 1 }));
          if (m.type === 'reject') resolve(String(m.message));
        };
      }),
    `ws://127.0.0.1:${port}/stream`,
  );
  expect(refusal).toContain('replays a recording');
  expect(outside).toEqual([]);
  expect(errors).toEqual([]);
  await page.close();
  p.kill('SIGINT');
  expect(await closed).toBe(0);
});
