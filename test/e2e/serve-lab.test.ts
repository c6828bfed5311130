/**
 * The stream to a remote viewer, end to end: `exitscope serve` runs inside the
 * lab guest (listening on all addresses, so with a token), its port forwarded
 * to the host; on the host `exitscope record --from ws://...` writes what
 * arrives; a workload runs under `perf stat` in the guest. The remote
 * recording's exits equal the kernel's count, reason by reason, and so do those
 * of `exitscope attach` (the remote dashboard, in tmux on the host) and of the
 * web page (Chromium on the host), which also asks for a flame snapshot.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oracleArgv, parseOracle } from '../../src/lab/oracle.js';
import { parseTally } from '../../src/lab/workload.js';
import { parseRecording } from '../../src/recording/recording.js';
import { type LabHandle, REPO, startLab } from './lab-harness.js';

const EXITSCOPE = join(REPO, 'bin/exitscope.js');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('exitscope serve in the lab, recorded from the host', { timeout: 400_000 }, () => {
  let lab: LabHandle;
  let hostPort: number;
  beforeAll(async () => {
    hostPort = await freePort();
    lab = await startLab({ npt: true, forwards: [{ hostPort, guestPort: 8080 }] });
  });
  afterAll(async () => {
    await lab?.session.stop();
  });

  it('the remote recording, the remote dashboard and the web page equal perf stat in the guest; a flame snapshot asked from the browser renders; a wrong token is refused', async () => {
    const out = lab.outDir;
    const ready = join(out, 'client-ready');
    const script = join(out, 'serve.sh');
    writeFileSync(
      script,
      [
        `node ${EXITSCOPE} serve 0.0.0.0:8080 --token lab-secret 2> ${out}/serve.err &`,
        'S=$!',
        `until [ -f ${ready} ]; do kill -0 $S || exit 3; sleep 0.2; done`,
        `${oracleArgv([join(REPO, 'build/exitscope-workload'), 'io', '1009'], join(out, 'perf.csv')).map((a) => (/^[\w/.:=,-]+$/.test(a) ? a : `'${a}'`)).join(' ')} > ${out}/tally.tmp && mv ${out}/tally.tmp ${out}/tally.json`,
        // then a steady load for the flame snapshot the browser asks for (not part of the counts compared)
        `until [ -f ${out}/flame-phase ]; do sleep 0.2; done`,
        `${join(REPO, 'build/exitscope-workload')} npf 20000 --loop > /dev/null & W=$!`,
        `until [ -f ${out}/flame-done ]; do kill -0 $S || break; sleep 0.2; done`,
        'kill $W; wait $W 2>/dev/null',
        'kill -INT $S; wait $S',
      ].join('\n'),
    );
    const guest = lab.session.exec(`bash ${script}`);
    await until(() => existsSync(join(out, 'serve.err')) && readFileSync(join(out, 'serve.err'), 'utf8').includes('serving the stream'), 120_000, 'the server in the guest');

    const url = `ws://127.0.0.1:${hostPort}`;
    const refused = spawn('node', [EXITSCOPE, 'record', '--from', url, '--token', 'wrong', '-o', join(out, 'refused.jsonl')]);
    let refusedErr = '';
    refused.stderr.on('data', (d: Buffer) => (refusedErr += d.toString()));
    const refusedStatus = await new Promise<number | null>((r) => refused.on('close', r));
    expect(refusedStatus).toBe(2);
    expect(refusedErr).toContain('error [REMOTE_UNAUTHORIZED]');
    expect(existsSync(join(out, 'refused.jsonl'))).toBe(false);

    // the remote dashboard, in a real terminal on the host, recording what it shows (-o)
    const attachRec = join(out, 'attach.jsonl');
    const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', 'exitscope-attach', ...args], { encoding: 'utf8' });
    const screen = (): string => tmux('capture-pane', '-p', '-t', 'attach');
    try {
      tmux('kill-server'); // a session left by an earlier run that failed
    } catch {
      // none
    }
    tmux('new-session', '-d', '-s', 'attach', '-x', '100', '-y', '40', `env -u CI NO_COLOR=1 TERM=xterm-256color node ${EXITSCOPE} attach ${url} --token lab-secret -w 60 -o ${attachRec}; echo attach-exit=$?; sleep 600`);
    // the whole line is waited for: tmux can be captured between two chunks of one frame
    const connected = /⇄ connected ws:\/\/127\.0\.0\.1:\d+\/stream \(control\)/;
    await until(() => connected.test(screen()), 60_000, 'attach to connect (as control)');

    const rec = join(out, 'remote.jsonl');
    const recorder = spawn('node', [EXITSCOPE, 'record', '--from', url, '--token', 'lab-secret', '-o', rec]);
    let recErr = '';
    recorder.stderr.on('data', (d: Buffer) => (recErr += d.toString()));
    const recorded = new Promise<number | null>((r) => recorder.on('close', r));
    // the collector has attached once a snapshot came through: then the workload may start
    await until(() => existsSync(rec) && readFileSync(rec, 'utf8').includes('"type":"snapshot"'), 120_000, 'the first snapshot on the host');
    // the web page, in Chromium on the host, through the same forwarded port (token in the fragment)
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    await page.goto(`http://127.0.0.1:${hostPort}/#token=lab-secret`);
    await expect.poll(() => page.locator('#conn').textContent(), { timeout: 30_000 }).toBe('connected (control)');

    writeFileSync(ready, '');
    await until(() => existsSync(join(out, 'tally.json')), 120_000, 'the counted workload');
    const counted = parseOracle(readFileSync(join(out, 'perf.csv'), 'utf8'));
    // the page shows the same count as the kernel (once the next interval has arrived)
    await expect.poll(() => page.locator('#total').textContent(), { timeout: 20_000 }).toBe(String(counted.exits));
    expect(await page.locator('#reasons').textContent()).toContain('IOIO');
    // the remote dashboard shows them too (now: the flame phase below can outlast its 60 s window)
    await until(() => /^IOIO +\S+/m.test(screen()), 20_000, 'the I/O exits on the remote dashboard');

    // a flame snapshot asked from the browser arrives and renders, with the TDP fault path in it
    writeFileSync(join(out, 'flame-phase'), '');
    await new Promise((r) => setTimeout(r, 2000));
    await page.locator('#flame-button').click();
    await page.waitForSelector('body[data-flame="done"]', { timeout: 240_000 });
    expect(await page.locator('#flame g.frame[name="kvm_mmu_page_fault"]').count()).toBeGreaterThan(0);
    await browser.close();
    writeFileSync(join(out, 'flame-done'), '');

    const g = await guest;
    expect(g.status, g.stderr).toBe(0);
    expect(await recorded, recErr).toBe(0);

    // the dashboard saw the end: its screen shows the workload's I/O exits; q quits and flushes
    await until(() => screen().includes('STOPPED'), 60_000, 'the remote dashboard to see the end');
    tmux('send-keys', '-t', 'attach', 'q');
    await until(() => screen().includes('attach-exit='), 30_000, 'attach to quit');
    expect(screen()).toContain('attach-exit=0');
    tmux('kill-server');

    const { messages, problems } = parseRecording(readFileSync(rec, 'utf8'));
    expect(problems).toEqual([]);
    expect(messages[0]?.type).toBe('hello');
    expect(messages.at(-1)).toMatchObject({ type: 'end', complete: true });
    const tally = parseTally(readFileSync(join(out, 'tally.json'), 'utf8'));
    const oracle = parseOracle(readFileSync(join(out, 'perf.csv'), 'utf8'));
    const remote = new Map<number, number>();
    for (const m of messages) if (m.type === 'snapshot') for (const e of m.exits) if (e.pid === tally.pid) remote.set(e.reason, (remote.get(e.reason) ?? 0) + e.n);
    for (const e of tally.expected) {
      expect(remote.get(e.reason), e.name).toBe(e.count);
      expect(oracle.exitsByReason.get(e.reason) ?? 0, e.name).toBe(e.count);
    }
    const totalRemote = [...remote.values()].reduce((a, b) => a + b, 0);
    expect(totalRemote).toBe(oracle.exits);
    // what the remote dashboard received adds up to the same
    const attached = parseRecording(readFileSync(attachRec, 'utf8')).messages;
    const viaAttach = attached.reduce((n, m) => (m.type === 'snapshot' ? n + m.exits.filter((e) => e.pid === tally.pid).reduce((a, e) => a + e.n, 0) : n), 0);
    expect(viaAttach).toBe(oracle.exits);
  });
});
