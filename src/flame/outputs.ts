/**
 * Where a snapshot's files go and how they are written: each file is written
 * beside its final name and renamed into place, so an interrupted run never
 * leaves a half-written file behind.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { describeWriteFailure, writeFully } from '../io/write-failure.js';
import { toFolded } from './folded.js';
import { renderHtml } from './html.js';
import type { FlameProfile } from './profile.js';
import { renderSvg } from './svg.js';

export const FLAME_FORMATS = ['folded', 'svg', 'html'] as const;
export type FlameFormat = (typeof FLAME_FORMATS)[number];

/** "exitscope-flame-20261125-121530" for a date. */
export function defaultFlameBase(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `exitscope-flame-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * -o PATH: a name ending in .folded, .svg or .html writes that one format;
 * any other PATH is a base name for every format asked for.
 */
export function outputPaths(output: string, formats: readonly FlameFormat[]): Partial<Record<FlameFormat, string>> {
  const ext = /\.(folded|svg|html)$/.exec(output)?.[1] as FlameFormat | undefined;
  if (ext) return { [ext]: resolve(output) };
  return Object.fromEntries(formats.map((f) => [f, resolve(`${output}.${f}`)]));
}

/** Fails before any capture if a file could not be written (missing directory, a directory in the way). */
export function checkWritable(paths: Partial<Record<string, string>>): void {
  for (const p of Object.values(paths)) {
    if (p === undefined) continue;
    const dir = dirname(p);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError('BAD_OUTPUT', `cannot write ${p}: ${dir} is not a directory`, 'create the directory first, or choose another -o');
    if (existsSync(p) && statSync(p).isDirectory()) throw new UserError('BAD_OUTPUT', `cannot write ${p}: it is a directory`, 'choose another -o');
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new UserError('BAD_OUTPUT', `cannot write ${p}: ${dir} is not writable`, 'choose a writable directory with -o');
    }
  }
}

export function renderFormat(p: FlameProfile, f: FlameFormat): string {
  return f === 'folded' ? toFolded(p) : f === 'svg' ? renderSvg(p) : renderHtml(p);
}

/** Creates a temporary file for `path` and returns its fd: never an existing file or a link planted there (O_EXCL). */
export type OpenTemp = (tmp: string) => number;
const openNewFile: OpenTemp = (tmp) => openSync(tmp, 'wx', 0o644);

/**
 * All or nothing: every file is written to a temporary name first; only when all of them are
 * complete are they renamed into place. A failure (disk full, ...) removes the temporaries and is
 * a FLAME_WRITE UserError (`errorCode`: the HTML report's REPORT_WRITE) that says why (ENOSPC, EIO, ...) and what to do.
 */
export function writeAllAtomic(files: readonly (readonly [string, string])[], openTemp: OpenTemp = openNewFile, errorCode = 'FLAME_WRITE'): void {
  const tmps: string[] = [];
  let current = '';
  const failed = (e: unknown, what: string): UserError => {
    for (const t of tmps) rmSync(t, { force: true });
    const { reason, fix } = describeWriteFailure(e, current);
    return new UserError(errorCode, `could not write ${current}: ${reason}; ${what}`, fix);
  };
  for (const [path, text] of files) {
    current = path;
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    let fd: number | undefined;
    try {
      fd = openTemp(tmp);
      tmps.push(tmp);
      writeFully(fd, text);
      closeSync(fd);
      fd = undefined;
    } catch (e) {
      try {
        if (fd !== undefined) closeSync(fd);
      } catch {
        // the write's error is the one to tell
      }
      throw failed(e, 'nothing was written');
    }
  }
  let renamed = 0;
  try {
    for (const [path] of files) {
      current = path;
      renameSync(tmps[renamed] as string, path);
      renamed++;
    }
  } catch (e) {
    tmps.splice(0, renamed); // those are in place now, under their names
    throw failed(e, renamed ? `${files.slice(0, renamed).map(([p]) => p).join(', ')} were written, the rest not` : 'nothing was written');
  }
}

/** Renders every format first, then writes them all or none; `extra` files (--raw) go with them. */
export function writeFlameFiles(p: FlameProfile, paths: Partial<Record<FlameFormat, string>>, extra: readonly (readonly [string, string])[] = []): Partial<Record<FlameFormat, string>> {
  const rendered = (Object.entries(paths) as [FlameFormat, string][]).map(([f, path]) => [path, renderFormat(p, f)] as const);
  writeAllAtomic([...rendered, ...extra]);
  return paths;
}
