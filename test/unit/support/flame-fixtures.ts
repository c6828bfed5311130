/**
 * Real flame captures from the lab (test/fixtures/flame, recorded by
 * scripts/record-flame-fixtures.sh): bpftrace's own output, read back through
 * the same code the capture uses, with the KVM symbols of that kernel.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStacksOutput, type RawSample } from '../../../src/flame/bpftrace-stacks.js';
import { toStacks } from '../../../src/flame/capture.js';
import { type FlameProfile, makeProfile } from '../../../src/flame/profile.js';

export const FLAME_FIX = join(import.meta.dirname, '../../fixtures/flame');
export const FLAME_CAPTURES = ['npf-npt-on', 'npf-npt-off', 'io-npt-on'] as const;
export type FlameCapture = (typeof FLAME_CAPTURES)[number];

export interface Provenance {
  kernel: string;
  npt: string;
  bpftrace: string;
  workload: string;
  command: string;
}

export function provenance(name: FlameCapture): Provenance {
  return JSON.parse(readFileSync(join(FLAME_FIX, `${name}.provenance.json`), 'utf8')) as Provenance;
}

export function rawSamples(name: FlameCapture): RawSample[] {
  return parseStacksOutput(readFileSync(join(FLAME_FIX, `${name}.bpftrace.jsonl`), 'utf8').split('\n'), true).samples;
}

export function kvmSymbols(kernel: string): Set<string> {
  return new Set(readFileSync(join(FLAME_FIX, `kvm-symbols-${kernel}.txt`), 'utf8').split('\n').filter(Boolean));
}

/** The VM frame as the capture named it (from the folded file it wrote). */
export function vmFrame(name: FlameCapture): string {
  const m = /\[vm ([^\]]+)\]/.exec(readFileSync(join(FLAME_FIX, `${name}.folded`), 'utf8'));
  return m?.[1] ?? 'unknown';
}

export function profileOf(name: FlameCapture): FlameProfile {
  const p = provenance(name);
  const stacks = toStacks(rawSamples(name), { reasons: true, vmName: () => vmFrame(name), kvmSymbols: kvmSymbols(p.kernel) });
  return makeProfile({ host: 'exitscope-lab', kernel: p.kernel, startedAt: '2026-11-25T00:00:00.000Z', seconds: 3, hz: 99, scope: 'all VMs' }, stacks);
}
