// `exitscope serve` started for a benchmark and stopped after it: its port answers once bpftrace has
// attached (the server starts first, the collector then), so it is tried until a client gets its
// first message (the hello), for as long as a dashboard is given to come up.
import { spawn } from 'node:child_process';
import { within } from './deadline.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once ws://127.0.0.1:PORT/stream answers, with { pid, stop, stderr }: stop() sends SIGINT
 * and SIGKILL after 15 s; stderr() is the end of what it wrote there. `WebSocket` is ws's class.
 */
export async function startServe({ bin, port, intervalMs, WebSocket, upMs = 240_000 }) {
  const serve = spawn(bin, ['serve', `127.0.0.1:${port}`, '-i', String(intervalMs)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  serve.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = new Promise((r) => serve.on('exit', r));
  const stop = async () => {
    serve.kill('SIGINT');
    await Promise.race([exited, sleep(15_000).then(() => serve.kill('SIGKILL'))]);
  };
  let up = false;
  const tryUntilUp = async () => {
    while (!up) {
      if (serve.exitCode !== null) throw new Error(`exitscope serve exited (${serve.exitCode}): ${err}`);
      up = await new Promise((r) => {
        const probe = new WebSocket(`ws://127.0.0.1:${port}/stream`);
        probe.once('message', () => {
          probe.close();
          r(true);
        });
        probe.once('error', () => r(false));
      });
      if (!up) await sleep(500);
    }
  };
  try {
    await within(`exitscope serve -i ${intervalMs} on port ${port}: its stream answering`, upMs, tryUntilUp(), { seen: () => err.trim().split('\n').at(-1) });
  } catch (e) {
    up = true; // ends the loop
    await stop();
    throw e;
  }
  return { pid: serve.pid, stop, stderr: () => err };
}
