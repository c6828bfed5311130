/**
 * Writing files the user named (recordings, flame snapshots): every byte or a
 * UserError that says what the system said and what to do. A full disk is an
 * everyday condition on a long recording, not a bug to show with a stack.
 */
import { writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes all of `data` (writeSync may write part of it and leave the rest). Throws the system error. */
export function writeFully(fd: number, data: string | Uint8Array): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  return done;
}

/** What to tell the user for a failed write of `path`: the errno in words and a fix that fits it (`flag` names the option that chose the path). */
export function describeWriteFailure(e: unknown, path: string, flag = '-o'): { reason: string; fix: string } {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const message = e instanceof Error ? e.message : String(e);
  const where = dirname(path);
  switch (code) {
    case 'ENOSPC':
      return { reason: `no space left on the device (ENOSPC)`, fix: `free space on the filesystem of ${where}, or write elsewhere with ${flag}` };
    case 'EDQUOT':
      return { reason: `disk quota exceeded (EDQUOT)`, fix: `free space within your quota, or write elsewhere with ${flag}` };
    case 'EFBIG':
      return { reason: `the file is larger than this filesystem or process allows (EFBIG)`, fix: `write to another filesystem with -o, or raise the file size limit (ulimit -f)` };
    case 'EIO':
      return { reason: `input/output error (EIO): the device or file does not take these writes`, fix: `write to a regular file on a healthy disk with ${flag}` };
    case 'EROFS':
      return { reason: `the filesystem is read-only (EROFS)`, fix: `write to a writable filesystem with ${flag}` };
    case 'EPIPE':
      return { reason: `the reader of the pipe went away (EPIPE)`, fix: `keep the reader running, or write to a file with ${flag}` };
    default:
      return { reason: code ? `${message}` : message, fix: `check the path and the disk, or write elsewhere with ${flag}` };
  }
}
