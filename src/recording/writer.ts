/**
 * Writes the message stream as JSON Lines, one message a line, hello first.
 * Written synchronously, a line at a time, so that Ctrl-C or a crash loses at
 * most the line being written.
 *
 * A write that fails (disk full, quota, EIO on a device) is not a crash: the
 * writer turns it into a RECORDING_WRITE UserError, remembers it, stops writing,
 * and tries to leave a last `error` and `end` (complete: false) line that say
 * why. On a full disk those may not fit either; the file stays readable anyway
 * (the reader skips a cut-off last line with a warning).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { UserError } from '../errors.js';
import { describeWriteFailure, writeFully } from '../io/write-failure.js';
import type { Message } from '../protocol/messages.js';

export interface RecordingWriterOptions {
  /**
   * Told once, at the first failed write; write() then returns quietly. Without it, that first
   * failed write throws the UserError instead (for callers that stop on an exception).
   */
  onFailure?: (e: UserError) => void;
}

export class RecordingWriter {
  private readonly fd: number;
  private closed = false;
  /** Messages written in full. */
  lines = 0;
  /** The first write error, as the user sees it; nothing is written after it. */
  failure: UserError | undefined;
  /** The newest stream time seen: the time of the closing lines after a failure. */
  private lastT = 0;

  constructor(
    readonly path: string,
    private readonly options: RecordingWriterOptions = {},
  ) {
    try {
      this.fd = openSync(path, 'w');
    } catch (e) {
      throw new UserError('RECORDING_OPEN', `cannot write ${path}: ${(e as Error).message}`, 'pick a writable path for -o');
    }
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Appends one message; after a failure (or close) it does nothing. */
  write(m: Message): void {
    if (this.failure || this.closed) return;
    if (m.type !== 'hello') this.lastT = Math.max(this.lastT, m.t);
    const line = Buffer.from(`${JSON.stringify(m)}\n`, 'utf8');
    let written = 0;
    try {
      // not writeFully: how much of the line got out decides how the file is closed after a failure
      while (written < line.length) written += this.writeSome(line, written);
      this.lines++;
    } catch (e) {
      this.fail(e, written > 0);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // a close error after a failed write repeats it (NFS reports ENOSPC at close); it is known
    }
  }

  /** One write(2): it may take part of the line (a nearly full disk), the loop in write() goes on. */
  protected writeSome(bytes: Buffer, from: number): number {
    return writeSync(this.fd, bytes, from, bytes.length - from);
  }

  private fail(e: unknown, cutMidLine: boolean): void {
    const { reason, fix } = describeWriteFailure(e, this.path);
    this.failure = new UserError('RECORDING_WRITE', `cannot write the recording ${this.path}: ${reason}; stopped after ${this.lines} messages (the file holds those and stays readable)`, fix);
    // best effort: say in the file why it ends here. A half-written line is closed first so that
    // the reader sees it as one bad line and still reads these two.
    const closing = [
      { type: 'error', t: this.lastT, code: this.failure.code, message: this.failure.message },
      { type: 'end', t: this.lastT, complete: false },
    ] satisfies Message[];
    try {
      writeFully(this.fd, `${cutMidLine ? '\n' : ''}${closing.map((m) => JSON.stringify(m)).join('\n')}\n`);
    } catch {
      // the disk is still full: the file ends with what was written; the reader copes
    }
    if (this.options.onFailure) this.options.onFailure(this.failure);
    else throw this.failure;
  }
}
