#!/usr/bin/env node
// The floor of any Ink frame the size of the dashboard: a 159 x 49 box of plain text lines (no
// colours, no model, no view model), one number changed per frame so that every frame is drawn,
// rendered into an in-memory terminal. What a frame of the dashboard costs at least, whatever it
// shows (docs/benchmarks.md, section 7).
//
//   node bench/ink-floor.mjs [--frames 100] [--every 120] [--colour]
//   node bench/ink-floor.mjs --tty        on this terminal, one frame a second until killed (bench/dashboard.mjs's reference row)
import { Writable, PassThrough } from 'node:stream';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const FRAMES = arg('frames', 100);
const EVERY = arg('every', 120);
const COLOUR = process.argv.includes('--colour');
const TTY = process.argv.includes('--tty');
process.env.NODE_ENV = 'production';
const { render, Box, Text } = await import('ink');
const { createElement: h } = await import('react');

const stdout = TTY ? process.stdout : Object.assign(new Writable({ write: (_c, _e, done) => done() }), { isTTY: true, columns: 160, rows: 50 });
const stdin = TTY ? process.stdin : Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined, ref: () => undefined, unref: () => undefined });
const line = (i, n) => `${String(i).padStart(3)} ${'exit reason and its numbers '.repeat(5).slice(0, 140)} ${String(n).padStart(8)}`;
const Screen = ({ n }) =>
  h(
    Box,
    { flexDirection: 'column', width: 159, height: 49 },
    Array.from({ length: 47 }, (_, i) => h(Text, { key: i, wrap: 'truncate-end', ...(COLOUR && i % 2 ? { color: 'cyan' } : {}) }, line(i, n + i))),
  );
let frames = 0;
const app = render(h(Screen, { n: 0 }), { stdout, stdin, exitOnCtrlC: false, patchConsole: false, maxFps: 10, onRender: () => frames++ });
await new Promise((r) => setTimeout(r, 500));
if (TTY) {
  // as the dashboard at one snapshot a second: one new frame a second, until killed
  for (let i = 1; ; i++) {
    app.rerender(h(Screen, { n: i }));
    await new Promise((r) => setTimeout(r, 1000));
  }
}
const f0 = frames;
const c0 = process.cpuUsage();
for (let i = 1; i <= FRAMES; i++) {
  app.rerender(h(Screen, { n: i }));
  await new Promise((r) => setTimeout(r, EVERY));
}
const c = process.cpuUsage(c0);
process.stderr.write(`${frames - f0} frames of 159 x 49 plain text${COLOUR ? ' (every other line coloured)' : ''}: ${((c.user + c.system) / 1000 / FRAMES).toFixed(2)} ms CPU a frame\n`);
app.unmount();
