#!/usr/bin/env node
// The dashboard's work per frame, in one process, for profiling: the real App (Ink + React, the
// store, the view model) rendered into an in-memory 160 x 50 terminal, fed a recording one snapshot
// every --every ms (more than Ink's and the store's 100 ms frame, so one frame per snapshot), with
// the heap after a full GC every 30 snapshots. No terminal, no pacing at the recorded speed: the
// real-terminal benchmark is bench/dashboard.mjs; this is what `node --cpu-prof` and
// `--heap-prof` are pointed at (docs/benchmarks.md, section 7).
//
//   npm run build
//   node --expose-gc bench/dashboard-frames.mjs FILE [--snapshots 150] [--every 120] [--redraws 100]
//   node --expose-gc --cpu-prof --cpu-prof-dir=/tmp/prof bench/dashboard-frames.mjs FILE
//   node --expose-gc bench/dashboard-frames.mjs FILE --heap-snapshot   (then bench/heap-top.mjs on it)
import { Writable } from 'node:stream';
import { join } from 'node:path';
import v8 from 'node:v8';

const repo = new URL('..', import.meta.url).pathname;
const file = process.argv[2];
if (!file) throw new Error('usage: node --expose-gc bench/dashboard-frames.mjs FILE [--snapshots N] [--every MS]');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SNAPSHOTS = arg('snapshots', 150);
const EVERY = arg('every', 120);

const { loadDashboard } = await import(join(repo, 'dist/ui/load-dashboard.js'));
await loadDashboard(); // React's production build, as the command loads it
const { render } = await import('ink');
const { createElement } = await import('react');
const { App } = await import(join(repo, 'dist/ui/App.js'));
const { DashboardStore } = await import(join(repo, 'dist/ui/store.js'));
const { themeFor } = await import(join(repo, 'dist/ui/theme.js'));
const { RecordingFile } = await import(join(repo, 'dist/src/recording/recording.js'));

let bytes = 0;
// Ink's own measure of each frame: its tree to the screen's text (layout done, before writing)
let frames = 0;
let inkOutputMs = 0;
let writes = 0;
const stdout = Object.assign(
  new Writable({
    write(chunk, _enc, done) {
      bytes += chunk.length;
      writes++;
      done();
    },
  }),
  { isTTY: true, columns: 160, rows: 50 },
);
const stdin = Object.assign(new (await import('node:stream')).PassThrough(), { isTTY: true, setRawMode: () => undefined, ref: () => undefined, unref: () => undefined });

const store = new DashboardStore('replay');
const app = render(createElement(App, { store, theme: themeFor({ TERM: 'xterm-256color' }) }), { stdout, stdin, exitOnCtrlC: false, patchConsole: false, maxFps: 10, onRender: ({ renderTime }) => { frames++; inkOutputMs += renderTime; } });
const mib = (n) => (n / 2 ** 20).toFixed(1);
const heap = (label) => {
  globalThis.gc?.();
  const m = process.memoryUsage();
  const spaces = v8.getHeapSpaceStatistics().map((x) => `${x.space_name.replace('_space', '')} ${mib(x.space_used_size)}/${mib(x.space_size)}`).join(', ');
  process.stderr.write(`${label}: rss ${mib(m.rss)} heapUsed ${mib(m.heapUsed)} heapTotal ${mib(m.heapTotal)} external ${mib(m.external)} MiB${process.argv.includes('--spaces') ? ` (${spaces})` : ''}\n`);
};
heap('rendered, empty');
let n = 0;
const t0 = process.cpuUsage();
const w0 = performance.now();
for (const m of new RecordingFile(file)) {
  store.apply(m);
  if (m.type !== 'snapshot') continue;
  await new Promise((r) => setTimeout(r, EVERY));
  if (++n % 30 === 0) heap(`after ${n} snapshots`);
  if (n >= SNAPSHOTS) break;
}
const c = process.cpuUsage(t0);
const wall = performance.now() - w0;
process.stderr.write(`${n} snapshots in ${(wall / 1000).toFixed(1)} s: ${((c.user + c.system) / 1000 / n).toFixed(2)} ms CPU a snapshot (parse, model, view, render), ${frames} frames (Ink's tree to text: ${(inkOutputMs / Math.max(1, frames)).toFixed(2)} ms a frame), ${writes} writes, ${(bytes / n / 1024).toFixed(1)} KiB written a snapshot\n`);
// --redraws N: then N frames of the same data (the view rebuilt, nothing new in the model): the
// cost of a frame itself, whatever the host's size
const REDRAWS = arg('redraws', 0);
if (REDRAWS > 0) {
  const f0 = frames;
  const r0 = process.cpuUsage();
  for (let i = 0; i < REDRAWS; i++) {
    store.setSelf({ cpuPercent: 1, rssMiB: 100 }, true);
    await new Promise((r) => setTimeout(r, EVERY));
  }
  const rc = process.cpuUsage(r0);
  process.stderr.write(`${frames - f0} redraws of the same data: ${((rc.user + rc.system) / 1000 / REDRAWS).toFixed(2)} ms CPU a frame\n`);
}
if (process.argv.includes('--heap-snapshot')) {
  globalThis.gc?.();
  process.stderr.write(`heap snapshot: ${v8.writeHeapSnapshot()}\n`);
}
app.unmount();
