/**
 * The dashboard commands: `exitscope top` on a TTY (the collector feeds the
 * store) and `exitscope replay FILE` on a TTY (a recording feeds it at its
 * recorded pace). This file owns the I/O; the views only read the store.
 */
import { render } from 'ink';
import { type Live, type LiveOptions, onInterrupt, startLive } from '../src/commands/live.js';
import { selfUsageMeter } from '../src/collector/self-usage.js';
import { captureFlame, captureTarget } from '../src/flame/capture.js';
import { readPageBundle } from '../src/flame/html.js';
import { defaultFlameBase, outputPaths, writeFlameFiles } from '../src/flame/outputs.js';
import { summarize } from '../src/flame/summary.js';
import { describeProblems, RecordingFile, RecordingWriter } from '../src/recording/recording.js';
import type { FlameSummary } from '../src/flame/summary.js';
import { RemoteStream } from '../src/remote/remote-stream.js';
import { CollectorStatsMessage } from '../src/server/client-messages.js';
import { App } from './App.js';
import { DashboardStore } from './store.js';
import { themeFor } from './theme.js';
import { selfStatsOf, type UiState, type WindowSeconds } from './view-model.js';

const RENDER = { exitOnCtrlC: false, patchConsole: false, maxFps: 10 } as const;

/** The collector's own CPU (% of one core) and memory, once a second. */
function watchSelf(store: DashboardStore): () => void {
  const measure = selfUsageMeter();
  const timer = setInterval(() => store.setSelf(selfStatsOf(measure())), 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The dashboard's `f`: one flame snapshot of the traced VMs, progress and result
 * through the store, files in the current directory. Never throws: failures are shown.
 */
async function takeFlame(live: Live, store: DashboardStore, o: { seconds: number; vm: string | undefined; signal: AbortSignal }): Promise<void> {
  store.setFlame({ state: 'sampling', phase: 'attaching', elapsed: 0, seconds: o.seconds });
  try {
    readPageBundle('flame-page'); // BUILD_MISSING before sampling, not after
    const capture = await captureFlame({
      seconds: o.seconds,
      hz: 99,
      ...captureTarget(live.caps, live.pids, o.vm, live.cgroup),
      userStacks: true,
      signal: o.signal,
      onProgress: (p) => store.setFlame({ state: 'sampling', ...p }),
    });
    if (!capture) return store.setFlame({ state: 'idle' });
    const profile = capture.profile;
    if (profile.samples === 0) return store.setFlame({ state: 'failed', message: `no samples: no vCPU thread was on a CPU for ${o.seconds} s (idle guests sleep in HLT); nothing written` });
    const files = writeFlameFiles(profile, outputPaths(defaultFlameBase(new Date()), ['folded', 'svg', 'html']));
    store.setFlame({ state: 'done', summary: summarize(profile, 10), files: Object.values(files) });
  } catch (e) {
    store.setFlame({ state: 'failed', message: (e as Error).message.split('\n')[0] ?? 'flame snapshot failed' });
  }
}

export async function topDashboard(o: LiveOptions & { windowSeconds: WindowSeconds; duration?: number; flameSeconds?: number }): Promise<number> {
  const store = new DashboardStore('live');
  // trouble shows in the header (lost events, gaps); nothing may write over the dashboard
  // bpftrace's own warnings (--verbose) would be written over the dashboard too: not here
  const live = await startLive({ ...o, verbose: false, notify: () => undefined }, (m) => store.apply(m));
  const stopSelf = watchSelf(store);
  const ui: Partial<UiState> = { windowSeconds: o.windowSeconds };
  // one snapshot at a time; x (cancel) and q abort the one running
  let flameAbort: AbortController | undefined;
  const onFlame = (): string | undefined => {
    if (store.flameState.state === 'sampling') return 'a flame snapshot is being taken';
    flameAbort = new AbortController();
    void takeFlame(live, store, { seconds: o.flameSeconds ?? 5, vm: o.vm, signal: flameAbort.signal });
    return undefined;
  };
  const onFlameCancel = (): void => flameAbort?.abort();
  const quit = (): void => {
    flameAbort?.abort();
    void live.stop();
  };
  const app = render(<App store={store} theme={themeFor(process.env)} initialUi={ui} onQuit={quit} onFlame={onFlame} onFlameCancel={onFlameCancel} />, RENDER);
  const off = onInterrupt(() => app.unmount());
  const timer = o.duration ? setTimeout(() => app.unmount(), o.duration * 1000) : undefined;
  // -o failed (disk full): live.ts stopped the collection; the dashboard goes too, and live.stop()
  // below rejects with the write error (printed with its fix after the terminal is restored)
  const watchRecording = setInterval(() => {
    if (live.recording?.failed) app.unmount();
  }, 200);
  await app.waitUntilExit();
  clearInterval(watchRecording);
  if (timer) clearTimeout(timer);
  off();
  stopSelf();
  flameAbort?.abort();
  await live.stop(); // final totals read, recording flushed and closed
  if (live.recording) process.stderr.write(`exitscope: recording written to ${live.recording.path} (${live.recording.lines} messages)\n`);
  return 0;
}

export async function replayDashboard(path: string, o: { windowSeconds: WindowSeconds; speed: number }): Promise<number> {
  // streamed a line at a time as it plays (the whole file parsed up front held every snapshot of
  // it: ~200 MB more at 50 VMs x 8 vCPUs for 5 minutes); the first message is read before the
  // dashboard draws, so that a path that is not a recording is said on a normal terminal
  const file = new RecordingFile(path);
  const messages = file[Symbol.iterator]();
  let next = messages.next();
  const store = new DashboardStore('replay');
  const app = render(<App store={store} theme={themeFor(process.env)} initialUi={{ windowSeconds: o.windowSeconds }} />, RENDER);
  const off = onInterrupt(() => app.unmount());
  let stopped = false;
  void app.waitUntilExit().then(() => {
    stopped = true;
  });
  // feed the recording at its own pace (divided by --speed); long pauses are cut to 2 s
  let lastT = 0;
  try {
    for (; !next.done && !stopped; next = messages.next()) {
      const m = next.value;
      const t = m.type === 'hello' ? 0 : m.t;
      if (m.type === 'snapshot' && t > lastT && o.speed > 0) {
        await new Promise((r) => setTimeout(r, Math.min(2000, (t - lastT) / o.speed)));
        lastT = t;
        if (stopped) break;
      }
      store.apply(m);
    }
  } finally {
    messages.return?.(); // q before the end: the file is closed
  }
  await app.waitUntilExit(); // the last state stays on screen until q
  off();
  if (file.lines.problemCount) process.stderr.write(`${describeProblems(path, file.lines.problems, file.lines.problemCount)}\n`);
  return 0;
}

/**
 * attach: a server message to the store: the remote collector's own CPU and memory (shown where the
 * local one is, at once: they come every few seconds, apart from the stream), flame progress and result.
 */
export function applyServerMessage(store: DashboardStore, m: { type: string; [k: string]: unknown }): void {
  if (m.type === 'collector') {
    const stats = CollectorStatsMessage.safeParse(m);
    if (stats.success) store.setSelf(selfStatsOf(stats.data), true);
    return;
  }
  if (m.type !== 'flame') return;
  const f = m as { state?: string; seconds?: number; summary?: FlameSummary; message?: string };
  if (f.state === 'sampling') store.setFlame({ state: 'sampling', phase: 'sampling', elapsed: 0, seconds: f.seconds ?? 5 });
  else if (f.state === 'done' && f.summary) store.setFlame({ state: 'done', summary: f.summary, files: [] });
  else if (f.state === 'failed') store.setFlame({ state: 'failed', message: f.message ?? 'the flame snapshot failed' });
}

/**
 * `exitscope attach ws://HOST:PORT`: the same dashboard on a remote stream. Each (re)connection
 * starts from a fresh model (the server's catch-up carries the totals so far); `f` asks the
 * server for a flame snapshot when the token allows it, and its result comes to the panel.
 */
export async function attachDashboard(o: { url: URL; token?: string; windowSeconds: WindowSeconds; output?: string }): Promise<number> {
  const store = new DashboardStore('live');
  let recording: RecordingWriter | undefined;
  // -o records one connection: after a reconnection the catch-up would count the totals twice
  let recordingDone = false;
  let rights: 'read' | 'control' = 'read';
  // -o could not be opened or written (disk full): the dashboard stops (the terminal restored) and
  // the command ends with that error (printed with its fix, status 2); the file stays readable
  let failure: unknown;
  let app: ReturnType<typeof render> | undefined;
  const fail = (e: unknown): void => {
    failure ??= e;
    remote.stop();
    app?.unmount();
  };
  const remote = new RemoteStream({
    url: o.url,
    ...(o.token ? { token: o.token } : {}),
    onState: (r) => {
      if (r.state === 'connected') {
        rights = r.rights;
        store.restart();
      }
      if (r.state === 'reconnecting' && recording && !recordingDone) {
        recording.close();
        recordingDone = true;
      }
      store.setRemote(r);
    },
    onMessage: (m) => {
      if (failure !== undefined) return; // stopped: frames still arriving are not ours
      store.apply(m);
      if (o.output && !recordingDone) {
        try {
          recording ??= new RecordingWriter(o.output, { onFailure: fail });
        } catch (e) {
          return fail(e); // RECORDING_OPEN: thrown here it would escape the socket's event handler
        }
        recording.write(m);
      }
    },
    onServerMessage: (m) => applyServerMessage(store, m),
  });
  await remote.start(); // a wrong address or token is an error here, before the dashboard draws
  const onFlame = (): string | undefined => {
    if (rights !== 'control') return 'this token may only watch: a flame snapshot needs the control token';
    return remote.send({ type: 'flame', seconds: 5 }) ? 'flame snapshot asked of the server' : 'not connected';
  };
  // the catch-up may arrive with the welcome: a write that failed then is said before anything is drawn
  if (failure === undefined) {
    const shown = render(<App store={store} theme={themeFor(process.env)} initialUi={{ windowSeconds: o.windowSeconds }} onFlame={onFlame} />, RENDER);
    app = shown;
    const off = onInterrupt(() => shown.unmount());
    await shown.waitUntilExit();
    off();
  }
  remote.stop();
  if (!recordingDone) recording?.close();
  if (failure !== undefined) throw failure;
  if (recording) process.stderr.write(`exitscope: recording written to ${recording.path} (${recording.lines} messages${recordingDone ? ', up to the first disconnection' : ''})\n`);
  return 0;
}
