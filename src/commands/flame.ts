/**
 * `exitscope flame`: sample the threads that take KVM exits for a while and
 * write the snapshot as folded stacks, an SVG flame graph and an HTML page,
 * then print where the time went. Ctrl-C cancels: nothing is written.
 */
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { captureFlame, captureTarget } from '../flame/capture.js';
import { readPageBundle } from '../flame/html.js';
import { type FlameFormat, checkWritable, defaultFlameBase, outputPaths, writeFlameFiles } from '../flame/outputs.js';
import { formatSummary, summarize } from '../flame/summary.js';
import { safeJson } from '../views/safe-text.js';
import { onInterrupt, targetCgroup, targetPids, tracingCapabilities } from './live.js';

export interface FlameCommandOptions {
  seconds: number;
  hz: number;
  pid: number[];
  vm?: string;
  /** Sample only threads in this cgroup v2 (and below): --cgroup. */
  cgroup?: string;
  output?: string;
  formats: FlameFormat[];
  reasons: boolean;
  user: boolean;
  json: boolean;
  quiet: boolean;
  top: number;
  /** Also save bpftrace's own output here. */
  raw?: string;
}

export async function flameCommand(o: FlameCommandOptions): Promise<number> {
  const paths = outputPaths(o.output ?? defaultFlameBase(new Date()), o.formats);
  checkWritable(o.raw !== undefined ? { ...paths, raw: resolve(o.raw) } : paths);
  const caps = await tracingCapabilities();
  const pids = targetPids(o.pid, o.vm);
  const target = captureTarget(caps, pids, o.vm, targetCgroup(caps, o));
  const scope = target.scope;
  const abort = new AbortController();
  const off = onInterrupt(() => abort.abort());
  const tty = process.stderr.isTTY === true && !o.quiet;
  let lastLine = '';
  if (paths.html) readPageBundle('flame-page'); // BUILD_MISSING now, not after sampling
  const capture = await captureFlame({
    seconds: o.seconds,
    hz: o.hz,
    ...target,
    reasons: o.reasons && target.reasons,
    userStacks: o.user,
    signal: abort.signal,
    onProgress: (p) => {
      if (o.quiet) return;
      const line = p.phase === 'attaching' ? 'flame: attaching probes...' : p.phase === 'sampling' ? `flame: sampling ${scope} at ${o.hz} Hz: ${p.elapsed.toFixed(1)}/${p.seconds} s` : 'flame: resolving symbols...';
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else if (line.split(':')[1] !== lastLine.split(':')[1]) process.stderr.write(`${line}\n`);
      lastLine = line;
    },
  });
  if (tty) process.stderr.write('\r\x1b[K');
  // Ctrl-C stays ours until the files are in place: it is handled after the (synchronous) writes
  // below, and a capture that is complete is written whole
  if (!capture) {
    off();
    process.stderr.write('exitscope: flame capture interrupted: nothing written\n');
    return 130;
  }
  const profile = capture.profile;
  if (profile.samples === 0) {
    off();
    throw new UserError(
      'NO_SAMPLES',
      `no vCPU thread of ${scope} was on a CPU during the ${o.seconds} s capture: there is nothing to draw (no file written)`,
      'capture while the guest is busy (an idle guest sleeps in HLT and is never sampled), for longer (--seconds), or check --vm/--pid with `exitscope top --once`',
    );
  }
  const written = writeFlameFiles(profile, paths, o.raw !== undefined ? [[resolve(o.raw), `${capture.raw.join('\n')}\n`]] : []);
  off();
  if (o.json) {
    process.stdout.write(`${safeJson(JSON.stringify({ files: written, meta: profile.meta, ...summarize(profile, o.top) }, null, 2))}\n`);
  } else {
    process.stdout.write(formatSummary(profile, o.top));
    process.stdout.write(`\nwritten:\n${Object.entries(written).map(([f, p]) => `  ${f.padEnd(6)} ${p}`).join('\n')}\n`);
  }
  return 0;
}
