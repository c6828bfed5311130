import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import type { Message, SnapshotMessage } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { summarize } from '../../src/flame/summary.js';
import { App } from '../../ui/App.js';
import { FaultsPanel } from '../../ui/components/FaultsPanel.js';
import { Header } from '../../ui/components/Header.js';
import { ReasonsTable } from '../../ui/components/ReasonsTable.js';
import { TdpPanel } from '../../ui/components/TdpPanel.js';
import { VmsPanel } from '../../ui/components/VmsPanel.js';
import { DashboardStore, type FlameState } from '../../ui/store.js';
import { themeFor } from '../../ui/theme.js';
import { buildView, type DashboardView, INITIAL_UI } from '../../ui/view-model.js';
import { profileOf } from './support/flame-fixtures.js';
import { frameWhere, until } from './support/ink-wait.js';

const FIX = join(import.meta.dirname, '../fixtures');
const PLAIN = themeFor({ NO_COLOR: '1' });
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const text = (frame: string | undefined): string => (frame ?? '').replace(ANSI, '');
const recording = (name: string): Message[] => parseRecording(readFileSync(join(FIX, 'recordings', `${name}.jsonl`), 'utf8')).messages;
const tick = (ms = 100): Promise<void> => new Promise((r) => setTimeout(r, ms));

function storeOf(messages: Message[], source: 'live' | 'replay' = 'replay'): DashboardStore {
  const s = new DashboardStore(source, 1000);
  for (const m of messages) s.apply(m);
  return s;
}

/** Golden frames: compared as text without colour; UPDATE_GOLDENS=1 rewrites them (review the diff). */
function expectGolden(frame: string, file: string): void {
  const path = join(FIX, 'golden', file);
  if (process.env.UPDATE_GOLDENS || !existsSync(path)) writeFileSync(path, frame);
  expect(frame).toBe(readFileSync(path, 'utf8'));
}

describe('the dashboard on a real lab recording (mix, 2 vCPUs, npt on)', () => {
  const messages = recording('run-mix-3-vcpus-2-npt-on');

  it('renders the golden frame at 100 x 40', () => {
    const { lastFrame, unmount } = render(<App store={storeOf(messages)} theme={PLAIN} size={{ columns: 100, rows: 40 }} initialUi={{ windowSeconds: 60 }} />);
    expectGolden(`${text(lastFrame())}\n`, 'dashboard-mix-100x40.txt');
    unmount();
  });

  it('fits 80 columns: no line wider, every panel still there', () => {
    const { lastFrame, unmount } = render(<App store={storeOf(messages)} theme={PLAIN} size={{ columns: 80, rows: 30 }} initialUi={{ windowSeconds: 60 }} />);
    const frame = text(lastFrame());
    expectGolden(`${frame}\n`, 'dashboard-mix-80x30.txt');
    for (const line of frame.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    for (const part of ['EXIT REASON', 'PAGE FAULTS', 'TDP HANDLER', 'VMs', 'vCPUs', 'q quit']) expect(frame).toContain(part);
    unmount();
  });

  it.each([
    [80, 24],
    [80, 30],
    [100, 40],
    [160, 50],
  ])('is never taller or wider than a %i x %i terminal', (columns, rows) => {
    const { lastFrame, stdin, unmount } = render(<App store={storeOf(messages)} theme={PLAIN} size={{ columns, rows }} />);
    const lines = text(lastFrame()).split('\n');
    expect(lines.length).toBeLessThanOrEqual(rows);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(columns);
    stdin.write('f'); // a footer message takes a line: still fits
    expect(text(lastFrame()).split('\n').length).toBeLessThanOrEqual(rows);
    unmount();
  });

  it('shows the counts of the recording: every reason, with its total', () => {
    const { lastFrame, unmount } = render(<App store={storeOf(messages)} theme={PLAIN} size={{ columns: 120, rows: 50 }} initialUi={{ windowSeconds: 60 }} />);
    const frame = text(lastFrame());
    // independently of the code under test: the totals per SVM reason in the recording
    const per = new Map<number, number>();
    for (const m of messages) if (m.type === 'snapshot') for (const e of m.exits) per.set(e.reason, (per.get(e.reason) ?? 0) + e.n);
    const names: Record<number, string> = { 96: 'INTR', 114: 'CPUID', 120: 'HLT', 123: 'IOIO', 124: 'MSR', 1024: 'NPF' };
    for (const [reason, n] of per) {
      const line = frame.split('\n').find((l) => l.startsWith(`${names[reason]} `));
      expect(line, `row for ${reason}`).toBeDefined();
      const shown = n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(n);
      expect(line).toContain(` ${shown} `);
    }
    unmount();
  });
});

describe('keys', () => {
  const messages = recording('run-mix-3-vcpus-2-npt-on');
  const snapshots = messages.filter((m): m is SnapshotMessage => m.type === 'snapshot');
  const setup = (store = storeOf(messages)) => ({ store, ...render(<App store={store} theme={PLAIN} size={{ columns: 100, rows: 40 }} initialUi={{ windowSeconds: 60 }} />) });

  it('p pauses the display while collection goes on, and p again catches up', async () => {
    const live = storeOf(messages.filter((m) => m.type !== 'end'), 'live');
    const { stdin, lastFrame, store, unmount } = setup(live);
    const before = text(lastFrame());
    stdin.write('p');
    await frameWhere(lastFrame, (f) => f.includes('PAUSED'), 'PAUSED');
    store.apply({ ...(snapshots[1] as SnapshotMessage), seq: 99, t: 20_000 });
    expect(store.model.snapshots).toBe(snapshots.length + 1); // collection goes on
    const body = (f: string): string => f.split('\n').slice(1).join('\n'); // all but the state line
    // frozen: what is drawn while paused never includes the new interval
    for (let i = 0; i < 10; i++) {
      expect(body(text(lastFrame()))).toBe(body(before));
      await tick(20);
    }
    stdin.write('p');
    const resumed = await frameWhere(lastFrame, (f) => f.includes('LIVE'), 'LIVE');
    // the interval that came while paused is counted
    await frameWhere(lastFrame, (f) => body(f) !== body(before), 'the interval that came while paused');
    expect(resumed).not.toContain('PAUSED');
    unmount();
  });

  it('s cycles the sort column, S flips the direction', async () => {
    const { stdin, lastFrame, unmount } = setup();
    expect(text(lastFrame())).toContain('COUNT▼');
    stdin.write('s');
    await frameWhere(lastFrame, (f) => f.includes('EXIT REASON▼'), 'EXIT REASON▼');
    stdin.write('S');
    const rows = (await frameWhere(lastFrame, (f) => f.includes('EXIT REASON▲'), 'EXIT REASON▲')).split('\n');
    const first = rows.findIndex((l) => l.includes('EXIT REASON▲')) + 1;
    expect(rows[first]).toMatch(/^CPUID /); // A..Z
    unmount();
  });

  it('v selects a VM (every panel filtered to it), then all VMs again', async () => {
    const { stdin, lastFrame, unmount } = setup();
    expect(text(lastFrame())).toContain('VM all VMs');
    stdin.write('v');
    const one = await frameWhere(lastFrame, (f) => /VM exitscope-workload \(pid 208\)/.test(f), 'the VM selected');
    expect(one).toContain('▶ exitscope-workload (208)');
    stdin.write('v');
    await frameWhere(lastFrame, (f) => f.includes('VM all VMs'), 'all VMs again');
    unmount();
  });

  it('/ filters the reasons by text; Esc clears it', async () => {
    const { stdin, lastFrame, unmount } = setup();
    stdin.write('/');
    await frameWhere(lastFrame, (f) => f.includes('filter: '), 'the filter prompt');
    stdin.write('io');
    await frameWhere(lastFrame, (f) => f.includes('filter: io'), 'filter: io');
    stdin.write('\r');
    const frame = await frameWhere(lastFrame, (f) => /hidden by filter "io"/.test(f), 'the filter applied');
    expect(frame).toMatch(/^IOIO /m);
    expect(frame).not.toMatch(/^CPUID /m);
    expect(frame).toMatch(/5 hidden by filter "io"/);
    stdin.write('/');
    await frameWhere(lastFrame, (f) => f.includes('filter: '), 'the filter prompt again');
    stdin.write('\x1b');
    const cleared = await frameWhere(lastFrame, (f) => /^CPUID /m.test(f), 'every reason again');
    expect(cleared).not.toMatch(/hidden by filter/);
    unmount();
  });

  it('keys typed in one burst (no render between them) each see the state the one before made', async () => {
    const { stdin, lastFrame, unmount } = setup();
    for (const k of ['/', 'i', 'o', '\r', '?']) stdin.write(k);
    await frameWhere(lastFrame, (f) => /pause \/ resume the display/.test(f), 'the help');
    stdin.write('x'); // any key closes the help
    const frame = await frameWhere(lastFrame, (f) => /hidden by filter "io"/.test(f), 'the filter kept');
    expect(frame).toMatch(/^IOIO /m);
    unmount();
  });

  it('1/2/3 change the window; r resets the counts; f without live collection says so; ? shows help', async () => {
    const { stdin, lastFrame, unmount } = setup();
    stdin.write('1');
    await frameWhere(lastFrame, (f) => f.includes('window 1s'), 'window 1s');
    stdin.write('3');
    await frameWhere(lastFrame, (f) => f.includes('window 60s'), 'window 60s');
    stdin.write('f');
    await frameWhere(lastFrame, (f) => /flame snapshots need live collection/.test(f), 'the flame message');
    stdin.write('?');
    await frameWhere(lastFrame, (f) => /pause \/ resume the display/.test(f), 'the help');
    stdin.write('x');
    await frameWhere(lastFrame, (f) => !/pause \/ resume the display/.test(f), 'the help closed');
    stdin.write('r');
    const reset = await frameWhere(lastFrame, (f) => f.includes('counts reset'), 'counts reset');
    expect(reset).toContain('waiting for the first exits...');
    unmount();
  });
});

describe('panels: empty, zero-length and huge values', () => {
  const base = (): DashboardView => buildView(storeOf([]).model, INITIAL_UI, { paused: false, self: undefined, source: 'live' });

  it('waiting for the first exits, no VM, no faults, no TDP handler', () => {
    const v = base();
    const { lastFrame } = render(<ReasonsTable r={v.reasons} state={v.state} theme={PLAIN} width={80} maxRows={10} />);
    expect(text(lastFrame())).toContain('waiting for the first exits...');
    expect(text(render(<VmsPanel vms={v.vms} vcpus={v.vcpus} theme={PLAIN} width={80} />).lastFrame())).toContain('no VM is running');
    expect(text(render(<FaultsPanel f={v.faults} theme={PLAIN} width={40} />).lastFrame())).toContain('no page faults in this window');
    expect(text(render(<TdpPanel t={v.tdp} theme={PLAIN} width={40} />).lastFrame())).toMatch(/not attached|no TDP/);
  });

  it('huge counts and rates stay in their columns; unknown reasons are shown, not dropped', () => {
    const v = base();
    v.state = 'running';
    v.reasons.rows = [
      { key: '2,123', name: 'IOIO', isaName: 'svm', reason: 123, known: true, count: 9.9e15, rate: 3.3e12, share: 0.999999, spark: [1, 1e12, 0], latency: { count: 1, minNs: 1, p50Ns: 4e9, p99Ns: 8e12, maxNs: 9e15 } },
      { key: '2,4660', name: 'UNKNOWN(0x1234)', isaName: 'svm', reason: 0x1234, known: false, count: 0, rate: 0, share: 0, spark: [] },
    ];
    v.reasons.total = 9.9e15;
    const frame = text(render(<ReasonsTable r={v.reasons} state={v.state} theme={PLAIN} width={80} maxRows={10} />).lastFrame());
    expect(frame).toContain('UNKNOWN(0x1234)');
    expect(frame).toMatch(/9900000G/);
    for (const line of frame.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });

  it('lost events are loud; gaps are counted', () => {
    const h = { ...base().header, lost: 12345, gaps: 2 };
    const frame = text(render(<Header h={h} theme={PLAIN} width={100} />).lastFrame());
    expect(frame).toContain('LOST 12345 EVENTS');
    expect(frame).toContain('2 gaps');
  });

  it('probes that are not attached are named with the reason', () => {
    const h = { ...base().header, notAttached: [{ probe: 'kprobe:*page_fault', detail: 'kprobes unavailable on this kernel' }] };
    expect(text(render(<Header h={h} theme={PLAIN} width={140} />).lastFrame())).toContain('not attached: kprobe:*page_fault (kprobes unavailable on this kernel)');
  });

  it('npt off (a real recording): the shadow-paging warning in the TDP panel', () => {
    const store = storeOf(recording('run-npf-1031-npt-off'));
    const v = buildView(store.model, { ...INITIAL_UI, windowSeconds: 60 }, { paused: false, self: undefined, source: 'replay' });
    const frame = text(render(<TdpPanel t={v.tdp} theme={PLAIN} width={60} />).lastFrame());
    expect(frame).toMatch(/NPT\/EPT is off/);
    expect(frame).toMatch(/shadow paging: paging64_page_fault 1031/);
  });
});

describe('colours', () => {
  it('NO_COLOR removes every escape code; colours are there without it', () => {
    const messages = recording('run-mix-3-vcpus-2-npt-on');
    const plain = render(<App store={storeOf(messages)} theme={themeFor({ NO_COLOR: '1' })} size={{ columns: 100, rows: 40 }} />);
    expect(plain.lastFrame()).not.toMatch(ANSI);
    plain.unmount();
    expect(themeFor({}).accent).toBeDefined();
    expect(themeFor({ NO_COLOR: '' }).accent).toBeDefined(); // set but empty does not count (no-color.org)
  });
});

describe('flame snapshots in the dashboard', () => {
  const messages = recording('run-mix-3-vcpus-2-npt-on');

  it('f asks for a snapshot; progress shows while sampling; then the top frames and the files; x closes it', async () => {
    const store = storeOf(messages, 'live');
    let asked = 0;
    let cancelled = 0;
    const { stdin, lastFrame, unmount } = render(
      <App store={store} theme={PLAIN} size={{ columns: 100, rows: 40 }} onFlameCancel={() => cancelled++} onFlame={() => {
        asked++;
        return undefined;
      }} />,
    );
    stdin.write('f');
    await until(() => asked === 1, 'the flame request');
    store.setFlame({ state: 'sampling', phase: 'sampling', elapsed: 1.5, seconds: 3 });
    await frameWhere(lastFrame, (f) => /flame snapshot .*sampling 1\.5\/3 s/.test(f), 'the progress');
    stdin.write('f');
    await frameWhere(lastFrame, (f) => f.includes('a flame snapshot is being taken'), 'the busy message');
    expect(asked).toBe(1);
    stdin.write('x');
    await frameWhere(lastFrame, (f) => f.includes('flame snapshot cancelled: nothing written'), 'the cancel message');
    expect(cancelled).toBe(1);
    const summary = summarize(profileOf('npf-npt-on'), 10);
    store.setFlame({ state: 'done', summary, files: ['/tmp/exitscope-flame-1.svg', '/tmp/exitscope-flame-1.html'] });
    const frame = await frameWhere(lastFrame, (f) => /top total +top self/.test(f), 'the top frames');
    expect(frame).toContain(`${summary.samples} samples`);
    expect(frame).toContain(summary.topTotal[0]?.name);
    expect(frame).toContain(summary.topSelf[0]?.name);
    expect(frame).toContain('/tmp/exitscope-flame-1.svg');
    for (const line of frame.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
    expect(frame.split('\n').length).toBeLessThanOrEqual(40);
    stdin.write('x');
    await frameWhere(lastFrame, (f) => !/top total|exitscope-flame-1/.test(f), 'the panel closed');
    store.setFlame({ state: 'failed', message: 'no samples: nothing written' });
    await frameWhere(lastFrame, (f) => f.includes('no samples: nothing written'), 'the failure');
    unmount();
  });
});

describe('the flame panel fits', () => {
  it.each([
    [80, 24],
    [60, 30],
    [100, 40],
  ])('at %i x %i: never wider, never taller, in every state', (columns, rows) => {
    const store = storeOf(recording('run-mix-3-vcpus-2-npt-on'), 'live');
    const { lastFrame, rerender, unmount } = render(<App store={store} theme={PLAIN} size={{ columns, rows }} />);
    const states = [
      { state: 'sampling', phase: 'attaching', elapsed: 0, seconds: 5 },
      { state: 'sampling', phase: 'sampling', elapsed: 2.25, seconds: 5 },
      { state: 'done', summary: summarize(profileOf('npf-npt-off'), 10), files: ['/a/very/long/path/to/exitscope-flame-20261125-124649.html'] },
      { state: 'failed', message: 'no samples: no vCPU thread was on a CPU for 5 s (idle guests sleep in HLT); nothing written' },
    ] as FlameState[];
    for (const f of states) {
      store.setFlame(f);
      rerender(<App store={store} theme={PLAIN} size={{ columns, rows }} />);
      const frame = text(lastFrame());
      expect(frame.split('\n').length, f.state).toBeLessThanOrEqual(rows - 1);
      for (const line of frame.split('\n')) expect(line.length, line).toBeLessThanOrEqual(columns);
    }
    unmount();
  });
});
