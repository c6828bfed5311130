/**
 * `exitscope exporter [ADDR:]PORT`: the collector with only /metrics and /healthz, for running as
 * a service (deploy/, docs/metrics.md): no recording, no dashboard, no WebSocket. The server
 * starts first (a taken port is said before bpftrace attaches); SIGTERM/SIGINT stop collection
 * (its final totals are counted) and close the server, status 0; collection that ends by itself
 * (bpftrace gave up) is status 1, so that systemd's Restart=on-failure starts it again.
 */
import { MetricsService } from '../metrics/service.js';
import { type ExporterOptions, startExporterServer } from '../exporter/start.js';
import type { Message } from '../protocol/messages.js';
import { type Live, type LiveOptions, onInterrupt, startLive, waitForEnd } from './live.js';

/**
 * @param start how collection starts: startLive (the machine's checks, then bpftrace); a test
 *   gives one on the bpftrace stand-in
 */
export async function exporterCommand(o: LiveOptions & ExporterOptions, start: (o: LiveOptions, onMessage: (m: Message) => void) => Promise<Live> = startLive): Promise<number> {
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  const service = new MetricsService(o.metrics);
  const server = await startExporterServer(o, service, say);
  // a signal while bpftrace attaches (seconds; systemd may stop us then) stops once it is up
  let early: NodeJS.Signals | undefined;
  const off = onInterrupt((signal) => (early = signal));
  let live: Live;
  try {
    // no vCPU label asked for: the kernel counts exits by VM, not by thread (half the keys at 2 vCPUs)
    live = await start({ ...o, notify: say, totals: false, exitsByThread: o.metrics.perVcpu === true }, (m) => service.apply(m));
  } catch (e) {
    off();
    await server.close();
    throw e;
  }
  off();
  const why = early ? 'interrupt' : await waitForEnd(live, undefined);
  try {
    await live.stop();
  } finally {
    await server.close();
  }
  if (why === 'ended') {
    say('exitscope: exporter: collection ended by itself (see the errors above); exiting with status 1');
    return 1;
  }
  return 0;
}
