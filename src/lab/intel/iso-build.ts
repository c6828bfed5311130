/**
 * Writes an ISO plan (iso-plan.ts) with xorriso: Rock Ridge (names, modes, symlinks kept), host
 * files grafted in place (never copied first), generated texts from a staging directory. The boot
 * ISO is cached by a key over its plan and the size and time of every file it takes in.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UserError } from '../../errors.js';
import type { IsoPlan } from './iso-plan.js';

const run = promisify(execFile);

/** A graft point for xorriso's -path-list: "target=source", with = and \ escaped. */
export function pathspec(target: string, source: string): string {
  for (const p of [target, source]) if (/[\n\r]/.test(p)) throw new UserError('LAB_BAD_PATH', `a path with a line break cannot go on the lab's ISO: ${JSON.stringify(p)}`, 'rename it, or run from another directory');
  const esc = (s: string): string => s.replaceAll('\\', '\\\\').replaceAll('=', '\\=');
  return `${esc(target)}=${esc(source)}`;
}

/** xorriso's arguments (after the path list is written). */
export function xorrisoArgs(out: string, pathList: string, bootable: boolean): string[] {
  return [
    '-as', 'mkisofs', '-quiet', '-R', '-iso-level', '3',
    ...(bootable ? ['-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table'] : []),
    '-graft-points', '-path-list', pathList, '-o', out,
  ];
}

/** Key of a plan: its text, and the size and mtime of each grafted host file. */
export function planKey(plan: IsoPlan, stat: (p: string) => { size: number; mtimeMs: number } = statSync): string {
  const h = createHash('sha256').update('exitscope-intel-iso-1\n');
  h.update(`bootable=${plan.bootable}\n`);
  for (const e of plan.entries) {
    if (e.kind === 'graft') {
      const s = stat(e.source);
      h.update(`graft ${e.target} ${e.source} ${s.size} ${s.mtimeMs}\n`);
    } else if (e.kind === 'text') h.update(`text ${e.target} ${e.mode} ${e.text.length}\n${e.text}\n`);
    else h.update(`dir ${e.target}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

/** Writes the ISO to `out` (via a temporary name: a half-written ISO is never seen). */
export async function buildIso(plan: IsoPlan, out: string): Promise<void> {
  const staging = mkdtempSync(`${out}.staging-`);
  try {
    const lines: string[] = [];
    const empty = join(staging, 'empty');
    mkdirSync(empty);
    plan.entries.forEach((e, n) => {
      if (e.kind === 'graft') lines.push(pathspec(e.target, e.source));
      else if (e.kind === 'dir') lines.push(pathspec(e.target, empty));
      else {
        const file = join(staging, `text-${n}`);
        writeFileSync(file, e.text);
        chmodSync(file, e.mode);
        lines.push(pathspec(e.target, file));
      }
    });
    const pathList = join(staging, 'path-list');
    writeFileSync(pathList, `${lines.join('\n')}\n`);
    const tmp = `${out}.partial-${process.pid}`;
    rmSync(tmp, { force: true });
    try {
      await run('xorriso', xorrisoArgs(tmp, pathList, plan.bootable), { maxBuffer: 16 * 1024 * 1024 });
    } catch (e) {
      const stderr = ((e as { stderr?: string }).stderr ?? String(e)).trim().split('\n').slice(-5).join('\n    ');
      throw new UserError('LAB_ISO_FAILED', `xorriso could not write ${out}:\n    ${stderr}`, 'check the free space of the cache directory (~/.cache/exitscope) and /tmp; apt-get install xorriso');
    }
    renameSync(tmp, out);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * The cached boot ISO for this plan: built when missing; older boot ISOs (another kernel or tool
 * version) are removed, as each is some 300 MB.
 */
export async function cachedBootIso(plan: IsoPlan, dir: string, progress: (msg: string) => void): Promise<{ path: string; reused: boolean }> {
  const key = planKey(plan);
  const path = join(dir, `boot-${key}.iso`);
  if (existsSync(path)) return { path, reused: true };
  mkdirSync(dir, { recursive: true });
  progress('building the boot ISO (kernel, node, bpftrace, perf; once, some 300 MB)');
  await buildIso(plan, path);
  for (const name of readdirSync(dir)) if (/^boot-[0-9a-f]+\.iso$/.test(name) && name !== `boot-${key}.iso`) rmSync(join(dir, name), { force: true });
  return { path, reused: false };
}
