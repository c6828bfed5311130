/**
 * A count that differs from perf stat's, explained in the test's failure message: bpftrace's own
 * output, kept in the guest by EXITSCOPE_BPFTRACE_LOG, is read back, saved beside the test's build
 * output (build/raw/) and read frame by frame by both readers (src/diagnose/explain-raw.ts). CI prints
 * only the failure, so what a flaky count was made of has to be in it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { explainRaw, formatExplanation } from '../../../src/diagnose/explain-raw.js';
import type { LabSession } from '../../../src/lab/session.js';
import { REPO } from '../lab-harness.js';

export async function explainLabRaw(lab: Pick<LabSession, 'exec'>, guestPath: string, name: string, field: 'exits' | 'faults'): Promise<string> {
  const r = await lab.exec(`cat ${guestPath}`, 60_000);
  if (r.status !== 0) return `bpftrace's output could not be read back from ${guestPath}: ${r.stderr.trim()}`;
  const bytes = Buffer.from(r.stdout, 'utf8');
  const dir = join(REPO, 'build', 'raw');
  mkdirSync(dir, { recursive: true });
  const kept = join(dir, `${name.replace(/[^\w.-]+/g, '-')}.bpftrace.raw`);
  writeFileSync(kept, bytes);
  return [`bpftrace's output (kept as ${kept}), ${field}:`, ...formatExplanation(explainRaw(bytes, field))].join('\n');
}
