/**
 * `exitscope exporter` as a real process whose bpftrace replays a lab capture (capture-bpftrace.mjs):
 * argv[2] the stand-in's path, argv[3] [ADDR:]PORT, argv[4] on|off (nested paging of the capture's
 * host); EXITSCOPE_TEST_CAPTURE names the capture, READ_TOKEN the scrape token. The machine checks
 * are replaced by what the capture's host had (AMD, kernel 6.1, the five handlers probed).
 */
import { exporterCommand } from '../../../src/commands/exporter.js';
import { startLiveIn } from '../../../src/commands/live.js';
import { formatUserError, isUserError } from '../../../src/errors.js';
import type { Capabilities } from '../../../src/probes/capabilities.js';
import { fakeCaps } from '../../unit/support/fake-caps.js';

const [, , bpftrace = '', listen = '', npt = 'on'] = process.argv;
const caps: Capabilities = {
  ...fakeCaps(bpftrace),
  tdp: npt === 'on',
  // the order of the captures' programs (their provenance files): @handler_* keys are indexes into it
  handlers: ['kvm_tdp_page_fault', 'paging64_page_fault', 'paging32_page_fault', 'nonpaging_page_fault', 'ept_page_fault'],
  kernel: '6.1.0-56-amd64',
};
try {
  process.exitCode = await exporterCommand({ interval: 1000, pid: [], reason: [], listen, metrics: {}, ...(process.env.READ_TOKEN ? { readToken: process.env.READ_TOKEN } : {}) }, (o, onMessage) => startLiveIn(o, onMessage, caps, [], [], undefined));
} catch (e) {
  if (!isUserError(e)) throw e;
  process.stderr.write(`${formatUserError(e)}\n`);
  process.exitCode = 2;
}
