#!/usr/bin/env node
// A stand-in for bpftrace in unit tests of the flame capture's process handling (the real thing
// runs in the lab, test/e2e/flame-lab.test.ts). It replays a real capture: the attach lines at
// once, the stacks and the done marker on SIGINT, as bpftrace's END does.
// FAKE_FLAME_MODE: normal | never-attaches | never-prints (ignores SIGINT) | dies (exit 1 after attaching)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const lines = readFileSync(join(import.meta.dirname, '../../fixtures/flame/npf-npt-on.bpftrace.jsonl'), 'utf8').trim().split('\n');
const mode = process.env.FAKE_FLAME_MODE ?? 'normal';
// ready for SIGINT before saying it is attached: a SIGINT that follows the attach
// lines at once must never find the default action
process.on('SIGINT', () => {
  if (mode === 'never-prints') return;
  process.stdout.write(`${lines.slice(2).join('\n')}\n`, () => process.exit(0));
});
if (mode !== 'never-attaches') process.stdout.write(`${lines[0]}\n${lines[1]}\n`);
if (mode === 'dies') {
  process.stderr.write('ERROR: something broke\n');
  process.exit(1);
}
setInterval(() => undefined, 1000);
