/**
 * Strings from outside never reach the terminal as escape sequences. A real lab recording is
 * given a VM name, host, kernel, bpftrace version, probe detail, handler name, error code and
 * message and gap reason that each hold an OSC retitle, a clear screen (ESC [2J and the one-byte
 * CSI 0x9b), a bare CR, BEL, backspace, DEL and bidi overrides. Every text view (text and markdown
 * reports, top --plain, replay, attach --plain, the Ink dashboard, stream notices,
 * recording problems, the flame summary) must print them as visible text; `report -f json` must
 * keep the exact raw value.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { attachPlainCommand } from '../../src/commands/attach-plain.js';
import { noticeOf } from '../../src/commands/live.js';
import { recordFromCommand } from '../../src/commands/record-from.js';
import { formatUserError, isUserError } from '../../src/errors.js';
import { replayCommand, reportCommand } from '../../src/commands/replay.js';
import { makeProfile } from '../../src/flame/profile.js';
import { formatSummary, summarize } from '../../src/flame/summary.js';
import { Aggregate } from '../../src/model/aggregate.js';
import type { Message } from '../../src/protocol/messages.js';
import { describeProblems, parseRecording } from '../../src/recording/recording.js';
import { formatReport } from '../../src/report/format.js';
import { buildReport } from '../../src/report/report.js';
import { plainTop } from '../../src/views/plain-top.js';
import { App } from '../../ui/App.js';
import { DashboardStore } from '../../ui/store.js';
import { themeFor } from '../../ui/theme.js';
import { buildView, INITIAL_UI } from '../../ui/view-model.js';

/** Everything a hostile name tries at once. */
const PAYLOAD = '\x1b]0;pwned\x07\x1b[2J\x9b2J\rfake\b\x7f\u202egnp.exe\u2066x\u2069';
const evil = (label: string): string => `${label}${PAYLOAD}`;
/** How the OSC part reads once neutralised: visible, so the reader can still tell what the name is. */
const SHOWN = '\\x1b]0;pwned\\x07';

/** No control character but newline, and no bidi control: nothing the terminal would act on. */
function expectInert(out: string, what = 'output'): void {
  expect(out, what).not.toContain('\x1b]');
  expect(out, what).not.toContain('\x1b[2J');
  expect(out, what).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/); // ESC, CR, BEL, BS, C1 (incl. 0x9b) and DEL
  expect(out, what).not.toMatch(/[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
}

/** Ink colours its output; those (SGR) are ours: strip them, then nothing else may remain. */
const SGR = /\x1b\[[0-9;]*m/g;
const frameText = (f: string | undefined): string => (f ?? '').replace(SGR, '');

const FIXTURE = join(import.meta.dirname, '../fixtures/recordings/run-npf-1031-npt-off.jsonl');

/** The npf recording (npt off: the shadow handler counts) with every outside string made hostile. */
function hostileMessages(): Message[] {
  const base = parseRecording(readFileSync(FIXTURE, 'utf8')).messages;
  const out: Message[] = [];
  for (const m of base) {
    if (m.type === 'hello') {
      out.push({
        ...m,
        host: evil('host'),
        kernel: evil('kernel'),
        bpftrace: evil('bpftrace'),
        handlers: m.handlers.map((h) => (h === 'paging64_page_fault' ? evil('paging64') : h)),
        probes: [...m.probes, { probe: evil('kprobe:probe'), attached: false, detail: evil('detail') }],
      });
      out.push({ type: 'vm', event: 'appeared', t: 0, pid: 194, name: evil('vm'), source: 'qemu', vcpus: { '196': 0 } });
      continue;
    }
    if (m.type === 'end') {
      out.push({ type: 'gap', t: m.t, reason: evil('gap'), resumed: true });
      out.push({ type: 'error', t: m.t, code: evil('CODE'), message: evil('error') });
    }
    out.push(m);
  }
  return out;
}

function aggregateOf(messages: Message[]): Aggregate {
  const agg = new Aggregate();
  for (const m of messages) agg.apply(m);
  return agg;
}

/** Collects what a command writes to stdout and stderr. */
function captureOutput(): { stdout: () => string; stderr: () => string; restore: () => void } {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (out.push(String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => (err.push(String(c)), true));
  return {
    stdout: () => out.join(''),
    stderr: () => err.join(''),
    restore: () => {
      o.mockRestore();
      e.mockRestore();
    },
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'exitscope-hostile-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  vi.restoreAllMocks();
});

describe('reports', () => {
  const report = buildReport(aggregateOf(hostileMessages()));

  it('text: every hostile string is shown, inert', () => {
    const out = formatReport(report, 'text');
    expectInert(out);
    // still there, as text: the host, the VM, the shadow handler, the gap, the error and its code
    for (const label of ['host', 'kernel', 'bpftrace', 'vm', 'paging64', 'gap', 'CODE', 'error']) expect(out).toContain(`${label}${SHOWN}`);
  });

  it('markdown: inert, and a name cannot add table rows, links or HTML', () => {
    expectInert(formatReport(report, 'markdown'));
    const injected = buildReport(aggregateOf(hostileMessages().map((m) => (m.type === 'hello' ? { ...m, host: 'h\n| injected | row |\n<img src=x onerror=alert(1)> [x](javascript:alert(1)) `code`' } : m))));
    const md = formatReport(injected, 'markdown');
    expect(md.split('\n').some((l) => l.startsWith('| injected'))).toBe(false);
    expect(md).not.toMatch(/(^|[^\\])<img/);
    expect(md).not.toMatch(/(^|[^\\])\[x\]/);
    expect(md).not.toMatch(/(^|[^\\])`code/);
    expect(md).toContain('\\| injected \\| row \\|');
  });

  it('json keeps the exact raw values, every unsafe character escaped (JSON.stringify leaves C1 and bidi raw)', () => {
    const out = formatReport(report, 'json');
    expectInert(out);
    const j = JSON.parse(out) as { host: string; kernel: string; vms: { name: string }[]; errors: { code: string; message: string }[]; gaps: { reason: string }[] };
    expect(j.host).toBe(evil('host'));
    expect(j.kernel).toBe(evil('kernel'));
    expect(j.vms[0]?.name).toBe(evil('vm'));
    expect(j.errors[0]).toMatchObject({ code: evil('CODE'), message: evil('error') });
    expect(j.gaps[0]?.reason).toBe(evil('gap'));
  });

  it('exitscope report FILE (text) prints nothing hostile', () => {
    const path = join(dir, 'hostile.jsonl');
    writeFileSync(path, `${hostileMessages().map((m) => JSON.stringify(m)).join('\n')}\n`);
    const io = captureOutput();
    try {
      reportCommand(path, 'text');
    } finally {
      io.restore();
    }
    expectInert(io.stdout(), 'stdout');
    expect(io.stdout()).toContain(`vm${SHOWN}`);
  });
});

describe('plain views', () => {
  it('top --plain: inert', () => {
    const out = plainTop(aggregateOf(hostileMessages()), 60_000);
    expectInert(out);
    expect(out).toContain(`host${SHOWN}`);
    expect(out).toContain(`vm${SHOWN}`);
  });

  it('replay: frames and the problems found in the file are inert (a bad key and a hostile file name)', async () => {
    const lines = hostileMessages().map((m) => JSON.stringify(m));
    // a vm message whose vcpus key is hostile and whose value is invalid: the problem names the key
    lines.splice(1, 0, JSON.stringify({ type: 'vm', event: 'appeared', t: 0, pid: 1, name: 'x', source: 'qemu', vcpus: { [evil('key')]: 'not a number' } }));
    const path = join(dir, `rec${PAYLOAD.replaceAll('/', '')}.jsonl`);
    writeFileSync(path, `${lines.join('\n')}\n`);
    const io = captureOutput();
    try {
      await replayCommand(path, { realtime: false, windowSeconds: 60 });
    } finally {
      io.restore();
    }
    expectInert(io.stdout(), 'stdout');
    expectInert(io.stderr(), 'stderr');
    expect(io.stdout()).toContain(`vm${SHOWN}`);
    expect(io.stderr()).toContain(`key${SHOWN}`);
  });

  it('describeProblems: the path and each problem are inert', () => {
    expectInert(describeProblems(evil('file'), [{ line: 3, message: evil('problem') }]));
  });

  it('a user error quoting a recording (no hello; a hostile key) prints inert, its lines kept', () => {
    let error: unknown;
    try {
      parseRecording(`${JSON.stringify({ type: 'vm', event: 'appeared', t: 0, pid: 1, name: 'x', source: 'qemu', vcpus: { [evil('key')]: 'x' } })}\n`, evil('file'));
    } catch (e) {
      error = e;
    }
    expect(isUserError(error)).toBe(true);
    const out = formatUserError(error as Parameters<typeof formatUserError>[0]);
    expectInert(out);
    expect(out).toContain(`file${SHOWN}`);
    expect(out.split('\n')).toHaveLength(2); // what went wrong, then the fix
  });

  it('record --from: the server’s close reason is printed inert', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => {
      for (const m of hostileMessages().filter((x) => x.type !== 'end')) ws.send(JSON.stringify(m));
      ws.send(JSON.stringify({ type: 'reject', message: evil('reject') }));
      ws.close(4000, '\x1b]0;pwned\x07\x1b[2J\u202e');
    });
    const port = (wss.address() as { port: number }).port;
    const io = captureOutput();
    let status: number;
    try {
      status = await recordFromCommand({ from: `ws://127.0.0.1:${port}`, output: join(dir, 'from.jsonl') });
    } finally {
      io.restore();
      await new Promise<void>((r) => wss.close(() => r()));
    }
    expect(status).toBe(1);
    expectInert(io.stderr(), 'stderr');
    expect(io.stderr()).toContain(`(4000 ${SHOWN}`);
  });

  it('stream notices (gap, error) are inert', () => {
    for (const m of hostileMessages()) {
      const n = noticeOf(m);
      if (n) expectInert(n, m.type);
    }
    expect(noticeOf({ type: 'error', t: 1, code: evil('CODE'), message: evil('error') })).toContain(`error${SHOWN}`);
  });

  it('attach --plain: frames from a hostile server and its close reason are inert', async () => {
    const messages = hostileMessages();
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    let connections = 0;
    wss.on('connection', (ws) => {
      connections++;
      ws.send(JSON.stringify({ type: 'welcome', rights: 'read' }));
      if (connections === 1) {
        // everything but the end, then a drop with a hostile close reason (< 123 bytes)
        for (const m of messages.filter((x) => x.type !== 'end')) ws.send(JSON.stringify(m));
        ws.close(4000, '\x1b]0;pwned\x07\x1b[2J\u202e');
      } else for (const m of messages) ws.send(JSON.stringify(m));
    });
    const port = (wss.address() as { port: number }).port;
    const io = captureOutput();
    try {
      await attachPlainCommand({ url: new URL(`ws://127.0.0.1:${port}/stream`), windowSeconds: 60 });
    } finally {
      io.restore();
      await new Promise<void>((r) => wss.close(() => r()));
    }
    expect(connections).toBe(2);
    expectInert(io.stdout(), 'stdout');
    expectInert(io.stderr(), 'stderr');
    expect(io.stdout()).toContain(`vm${SHOWN}`);
    expect(io.stderr()).toContain(`disconnected (connection closed (4000 ${SHOWN}`);
  });
});

describe('the Ink dashboard', () => {
  const PLAIN = themeFor({ NO_COLOR: '1' });
  const COLOUR = themeFor({});

  function storeOf(messages: Message[]): DashboardStore {
    const s = new DashboardStore('replay', 1000);
    for (const m of messages) s.apply(m);
    return s;
  }

  it('every string in the view model is inert, whatever field it is in', () => {
    const view = buildView(aggregateOf(hostileMessages()), { ...INITIAL_UI, windowSeconds: 60 }, { paused: false, self: undefined, source: 'replay' });
    const strings: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') strings.push(v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(view);
    expect(strings.some((s) => s.includes(SHOWN))).toBe(true);
    for (const s of strings) expectInert(s, JSON.stringify(s));
  });

  it.each([
    ['without colour', PLAIN],
    ['with colour', COLOUR],
  ])('the rendered frame (header, VMs, probes, hints) is inert %s', (_what, theme) => {
    const { lastFrame, unmount } = render(<App store={storeOf(hostileMessages())} theme={theme} size={{ columns: 200, rows: 50 }} initialUi={{ windowSeconds: 60 }} />);
    const frame = frameText(lastFrame());
    unmount();
    expectInert(frame);
    expect(frame).toContain(`host${SHOWN}`);
    expect(frame).toContain(`vm${SHOWN}`);
  });

  it('a remote server’s close reason, flame failure and flame frame names are inert', () => {
    const store = storeOf(hostileMessages());
    store.setRemote({ state: 'reconnecting', url: 'ws://127.0.0.1:1/stream', inSeconds: 1, why: evil('why') });
    store.setFlame({ state: 'failed', message: evil('flame failed') });
    const { lastFrame, rerender, unmount } = render(<App store={store} theme={PLAIN} size={{ columns: 200, rows: 50 }} initialUi={{ windowSeconds: 60 }} />);
    let frame = frameText(lastFrame());
    expectInert(frame, 'failed');
    expect(frame).toContain(`why${SHOWN}`);
    expect(frame).toContain(`flame failed${SHOWN}`);
    // a summary as a server sends it (attach): not cleaned by anyone before it arrives
    const share = (name: string) => ({ name, kind: 'kernel' as const, samples: 5, share: 0.5 });
    store.setFlame({ state: 'done', summary: { samples: 10, byState: [share(`[exit ${PAYLOAD}]`)], topTotal: [share(evil('total'))], topSelf: [share(evil('self'))] }, files: [] });
    rerender(<App store={store} theme={PLAIN} size={{ columns: 200, rows: 50 }} initialUi={{ windowSeconds: 60 }} />);
    frame = frameText(lastFrame());
    unmount();
    expectInert(frame, 'done');
    expect(frame).toContain(`total${SHOWN}`);
  });
});

describe('the flame summary text', () => {
  it('frame names and the scope are inert', () => {
    const profile = makeProfile(
      { host: evil('host'), kernel: evil('kernel'), startedAt: '2026-01-01T00:00:00Z', seconds: 1, hz: 99, scope: `VM ${evil('vm')} (pid 1)` },
      [{ frames: [{ name: `[exit ${PAYLOAD}]`, kind: 'context' }, { name: evil('frame'), kind: 'kernel' }], count: 3 }],
    );
    const out = formatSummary(profile);
    expectInert(out);
    expect(out).toContain(`VM vm${SHOWN}`);
    expect(summarize(profile).topSelf[0]?.name).toMatch(/^frame\?/);
  });
});
