/**
 * /metrics through the real CLI: `exitscope serve --replay` (nothing traced) as a process, with the
 * --metrics-* flags; a WebSocket client starts the replay and reads it to its end, then /metrics
 * has the recording's counts, under the labels the flags ask for.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aggregate } from '../../src/model/aggregate.js';
import { readRecording } from '../../src/recording/recording.js';
import { buildReport } from '../../src/report/report.js';
import { bundleScript, removeBundle } from './support/bundle-script.js';
import { labelValues, parseSamples, sumOf } from './support/prom-text.js';

const RECORDING = join(import.meta.dirname, '../fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl');
let cli: string;
beforeAll(async () => {
  cli = await bundleScript(join(import.meta.dirname, 'support/cli-main.ts'));
}, 60_000);
afterAll(() => removeBundle(cli));

function serve(...flags: string[]): { p: ChildProcess; port: Promise<number>; done: Promise<number | null> } {
  const p = spawn(process.execPath, [cli, 'serve', '0', '--replay', RECORDING, '--speed', 'max', ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const port = new Promise<number>((resolve, reject) => {
    p.stderr?.on('data', (d: Buffer) => {
      err += d.toString('utf8');
      const m = /Prometheus metrics at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    p.on('close', () => reject(new Error(`serve exited: ${err}`)));
  });
  const guard = setTimeout(() => p.kill('SIGKILL'), 30_000);
  const done = new Promise<number | null>((resolve) => p.on('close', (s) => (clearTimeout(guard), resolve(s))));
  return { p, port, done };
}

/** Connects (which starts the replay) and reads until the stream's end. */
const readToEnd = (port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/stream`);
    ws.on('message', (d) => {
      if ((JSON.parse(String(d)) as { type: string }).type === 'end') ws.close(1000);
    });
    ws.on('close', () => resolve());
    ws.on('error', reject);
  });

const scrape = (port: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });

describe('serve --replay with --metrics-* flags (the CLI as a process)', () => {
  const agg = new Aggregate(0);
  for (const m of readRecording(RECORDING).messages) agg.apply(m);
  const report = buildReport(agg);

  it.each([
    [[], 'the VM by name, no vcpu label'],
    [['--metrics-max-vms', '0'], 'every VM folded into other'],
    [['--metrics-vcpu'], 'vcpu labels'],
  ])('%j: %s, with the recording\'s exact counts', { timeout: 60_000 }, async (flags) => {
    const s = serve(...flags);
    try {
      const port = await s.port;
      await readToEnd(port);
      const samples = parseSamples(await scrape(port));
      expect(sumOf(samples, 'exitscope_exits_total')).toBe(report.totalExits);
      for (const e of report.exits) expect(sumOf(samples, 'exitscope_exits_total', { reason: e.name }), e.name).toBe(e.count);
      const vms = labelValues(samples, 'exitscope_exits_total', 'vm');
      if (flags.includes('--metrics-max-vms')) {
        expect(vms).toEqual(['other']);
        expect(samples.some((x) => x.name === 'exitscope_vm_info')).toBe(false);
      } else expect(vms).toEqual(report.vms.map((v) => v.name));
      const vcpus = labelValues(samples, 'exitscope_exits_total', 'vcpu');
      if (flags.includes('--metrics-vcpu')) expect(vcpus.sort()).toEqual(['0', '1']);
      else expect(vcpus).toEqual([undefined]);
      s.p.kill('SIGINT');
      expect(await s.done).toBe(0);
    } finally {
      s.p.kill('SIGKILL');
    }
  });
});
