/**
 * Reads a recording file as a stream of messages, in bounded memory: a chunk
 * and one line at a time, whatever the file's size. Only regular files: a
 * device (/dev/zero) never ends and a FIFO without a writer never answers, so
 * both are refused up front (the open does not block: O_NONBLOCK, then fstat).
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from '../errors.js';
import type { Message } from '../protocol/messages.js';
import { type Problem, RecordingLines } from './messages-from-lines.js';
import { safeText } from '../views/safe-text.js';

/**
 * The longest line read. bpftrace's maps hold at most 262,144 keys, so the largest snapshot the
 * collector can write is about 25 MB; a longer line is not one of ours and is skipped unread.
 */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

export interface ReadOptions {
  maxLineBytes?: number;
}

export interface ReadResult {
  messages: Message[];
  /** The first problems (at most MAX_PROBLEMS_KEPT) ... */
  problems: Problem[];
  /** ... of this many. */
  problemCount: number;
}

/** Opens `path` for reading if it is a regular file; never blocks (a FIFO with no writer). */
function openRegularFile(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new UserError('RECORDING_READ', `cannot read ${path}: ${(e as Error).message}`, 'check the path');
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    const kind = stat.isDirectory() ? 'a directory' : stat.isFIFO() ? 'a FIFO (named pipe)' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : stat.isSocket() ? 'a socket' : 'not a regular file';
    throw new UserError('RECORDING_NOT_FILE', `${path} is ${kind}, not a recording file`, 'give the path of a file written by exitscope record -o FILE (to read a stream, record it to a file first)');
  }
  return fd;
}

/**
 * A recording, message by message. Iterate it once; `lines.problems` has what was skipped
 * (after the iteration). Throws UserError for a file that is not a recording at all.
 */
export class RecordingFile implements Iterable<Message> {
  readonly lines: RecordingLines;
  private readonly maxLineBytes: number;

  constructor(
    readonly path: string,
    o: ReadOptions = {},
  ) {
    this.lines = new RecordingLines(path);
    this.maxLineBytes = o.maxLineBytes ?? MAX_LINE_BYTES;
  }

  *[Symbol.iterator](): Iterator<Message> {
    const fd = openRegularFile(this.path);
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    // the line being read, in one buffer reused from line to line (grown by doubling up to the
    // longest line): outside V8's heap, and no copy per piece plus one to join them (a 16 MB
    // snapshot line cost 32 MB of buffers that way); only its length once it is too long to keep
    let line = Buffer.allocUnsafe(64 * 1024);
    let pending = 0;
    let tooLong = false;
    let lineNo = 0;
    const endLine = (cut: boolean): Message | undefined => {
      lineNo++;
      const raw = tooLong ? undefined : line.toString('utf8', 0, pending);
      const wasTooLong = tooLong;
      pending = 0;
      tooLong = false;
      if (wasTooLong) {
        this.lines.problem(lineNo, `line too long (more than ${this.maxLineBytes} bytes): skipped`);
        return undefined;
      }
      return this.lines.parse(raw as string, lineNo, cut);
    };
    const take = (piece: Buffer): void => {
      if (tooLong) return;
      if (pending + piece.length > this.maxLineBytes) {
        tooLong = true;
        pending = 0;
        return;
      }
      if (pending + piece.length > line.length) {
        const bigger = Buffer.allocUnsafe(Math.min(Math.max(line.length * 2, pending + piece.length), this.maxLineBytes));
        line.copy(bigger, 0, 0, pending);
        line = bigger;
      }
      piece.copy(line, pending);
      pending += piece.length;
    };
    try {
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, chunk, 0, CHUNK_BYTES, null);
        } catch (e) {
          throw new UserError('RECORDING_READ', `cannot read ${this.path}: ${(e as Error).message}`, 'check the file and the disk');
        }
        if (n === 0) break;
        let from = 0;
        for (;;) {
          const nl = chunk.indexOf(10, from);
          if (nl < 0 || nl >= n) break;
          take(chunk.subarray(from, nl));
          from = nl + 1;
          const m = endLine(false);
          if (m) yield m;
          if (this.lines.done) return;
        }
        take(chunk.subarray(from, n));
      }
      if (pending > 0 || tooLong) {
        const m = endLine(true);
        if (m) yield m;
      }
      this.lines.finish();
    } finally {
      closeSync(fd);
    }
  }
}

/** The whole recording in memory (the dashboard's replay plays it at its pace). */
export function readRecording(path: string, o: ReadOptions = {}): ReadResult {
  const file = new RecordingFile(path, o);
  const messages = [...file];
  return { messages, problems: file.lines.problems, problemCount: file.lines.problemCount };
}

/** The same rules on text in memory (tests, fixtures). */
export function parseRecording(text: string, path = 'recording'): ReadResult {
  const lines = new RecordingLines(path);
  const messages: Message[] = [];
  const all = text.split('\n');
  const cutAt = text.endsWith('\n') ? -1 : all.length - 1;
  for (let i = 0; i < all.length && !lines.done; i++) {
    const m = lines.parse(all[i] as string, i + 1, i === cutAt);
    if (m) messages.push(m);
  }
  lines.finish();
  return { messages, problems: lines.problems, problemCount: lines.problemCount };
}

export function describeProblems(path: string, problems: readonly Problem[], total = problems.length): string {
  const shown = problems.slice(0, 5).map((p) => safeText(`  ${path}:${p.line}: ${p.message}`));
  if (total > 5) shown.push(`  ... and ${total - 5} more`);
  return `exitscope: warning: ${total} unreadable line(s) skipped; the rest is used:\n${shown.join('\n')}`;
}
