#!/usr/bin/env node
// A stand-in for bpftrace that replays a real capture from the lab (test/fixtures/bpftrace/NAME,
// named by EXITSCOPE_TEST_CAPTURE; provenance beside it): the attach lines, then its interval frames
// EXITSCOPE_TEST_FRAME_MS apart (default 50), then nothing more (its counts are final and stay served). On SIGINT or SIGTERM the
// last frame again as the final one, then exit 0, as bpftrace does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { framesOf } from '../../unit/support/capture-frames.mjs';

const name = process.env.EXITSCOPE_TEST_CAPTURE;
if (!name || !/^[\w.-]+$/.test(name)) {
  process.stderr.write('capture-bpftrace: EXITSCOPE_TEST_CAPTURE must name a file of test/fixtures/bpftrace\n');
  process.exit(2);
}
const capture = readFileSync(join(import.meta.dirname, '../../fixtures/bpftrace', name), 'utf8').trim().split('\n');
const frames = framesOf(capture);
let i = 0;
let timer;
const stop = () => {
  clearInterval(timer);
  const last = frames[Math.max(0, i - 1)];
  process.stdout.write(`${last.map((l) => l.replace('exitscope:begin', 'exitscope:final')).join('\n')}\n`);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
timer = setInterval(() => {
  if (i < frames.length) process.stdout.write(`${frames[i++].join('\n')}\n`);
}, Number(process.env.EXITSCOPE_TEST_FRAME_MS ?? 50));
process.stdout.write(`${capture[0]}\n${capture[1]}\n`); // attached_probes, exitscope:attached
