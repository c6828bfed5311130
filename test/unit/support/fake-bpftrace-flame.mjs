#!/usr/bin/env node
// A stand-in for bpftrace in unit tests of the flame capture's process handling (the real thing
// runs in the lab, test/e2e/flame-lab.test.ts). It replays a real capture: the attach lines at
// once, then, when the program's own time is up (read from the program file, as its interval
// probe would check it), the stacks and the done marker, as bpftrace's END does after exit().
// FAKE_FLAME_MODE: normal | never-attaches | never-prints (never ends) | dies (exit 1 after attaching)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const lines = readFileSync(join(import.meta.dirname, '../../fixtures/flame/npf-npt-on.bpftrace.jsonl'), 'utf8').trim().split('\n');
const mode = process.env.FAKE_FLAME_MODE ?? 'normal';
const program = readFileSync(process.argv.at(-1), 'utf8');
const durationNs = /nsecs - @flame_start >= (\d+)\//.exec(program)?.[1];
if (durationNs === undefined) {
  process.stderr.write('fake bpftrace: the program has no end of its own\n');
  process.exit(1);
}
if (mode !== 'never-attaches') process.stdout.write(`${lines[0]}\n${lines[1]}\n`);
if (mode === 'dies') {
  process.stderr.write('ERROR: something broke\n');
  process.exit(1);
}
if (mode === 'normal') setTimeout(() => process.stdout.write(`${lines.slice(2).join('\n')}\n`, () => process.exit(0)), Number(BigInt(durationNs) / 1_000_000n));
setInterval(() => undefined, 1000);
