#!/usr/bin/env node
// What a count is made of: bpftrace's own output as exitscope kept it (EXITSCOPE_BPFTRACE_LOG=FILE),
// frame by frame, as both readers count it (src/diagnose/explain-raw.ts). After `npm run build`:
//   node scripts/explain-raw.mjs FILE [--map exits|faults|regions|handlerCalls] [--all]
import { readFileSync } from 'node:fs';
import { explainRaw, formatExplanation } from '../dist/src/diagnose/explain-raw.js';

const args = process.argv.slice(2);
const FIELDS = ['exits', 'faults', 'regions', 'handlerCalls'];
const mapAt = args.indexOf('--map');
const field = mapAt >= 0 ? args[mapAt + 1] : 'faults';
const file = args.find((a, i) => !a.startsWith('--') && i !== mapAt + 1);
if (!file || !FIELDS.includes(field)) {
  process.stderr.write(`usage: node scripts/explain-raw.mjs FILE [--map ${FIELDS.join('|')}] [--all]\n`);
  process.exit(2);
}
process.stdout.write(`${file}: ${formatExplanation(explainRaw(readFileSync(file), field), args.includes('--all')).join('\n')}\n`);
