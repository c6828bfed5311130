/**
 * A whole file the user named, written at once (a report, a summary, a JUnit file): every
 * byte, or a UserError with the system's reason and a fix, never a stack. The file is written
 * in place (not renamed over): it may be a FIFO or /dev/stdout, as CI systems pass.
 */
import { closeSync, openSync } from 'node:fs';
import { UserError } from '../errors.js';
import { describeWriteFailure, writeFully } from './write-failure.js';

/**
 * @param code the error code a failure is reported under (documented in docs/errors.md)
 * @param flag the option that named the file, for the fix ("--report-file")
 * @param mode 'w' replaces the file; 'a' appends (a CI step summary, which each step adds to)
 */
export function writeUserFile(path: string, text: string, code: string, flag: string, mode: 'w' | 'a' = 'w'): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, mode);
    writeFully(fd, text);
    // a network filesystem may say ENOSPC only here: a close that fails is a failed write too
    const open = fd;
    fd = undefined;
    closeSync(open);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // the write's own error is the one to report
      }
    }
    const { reason, fix } = describeWriteFailure(e, path, flag);
    throw new UserError(code, `cannot write ${path}: ${reason}`, fix);
  }
}
