/**
 * Lines of a recording → messages, tolerantly: a truncated or corrupt line is a
 * problem with its number and the rest is kept. The rules every reader shares
 * (file, string): hello first, one protocol version, one recording per file.
 */
import { UserError } from '../errors.js';
import { type Message, Message as MessageSchema, PROTOCOL_VERSION } from '../protocol/messages.js';
import { fastSnapshot } from './snapshot-fast-path.js';

export interface Problem {
  line: number;
  message: string;
}

/** Problems kept with their text (a file of garbage must not fill memory with them); the rest are counted. */
export const MAX_PROBLEMS_KEPT = 100;

const isForeignHello = (j: unknown): boolean => typeof j === 'object' && j !== null && (j as { type?: unknown }).type === 'hello' && (j as { v?: unknown }).v !== PROTOCOL_VERSION;

export class RecordingLines {
  readonly problems: Problem[] = [];
  /** Every problem, also those past MAX_PROBLEMS_KEPT. */
  problemCount = 0;
  messageCount = 0;
  /** Set at a second hello: the rest of the file is another recording and is not read. */
  done = false;

  constructor(readonly path: string) {}

  problem(line: number, message: string): void {
    this.problemCount++;
    if (this.problems.length < MAX_PROBLEMS_KEPT) this.problems.push({ line, message });
  }

  /** One line (without its newline); `cut`: the last line of the file, with no newline after it. */
  parse(raw: string, line: number, cut: boolean): Message | undefined {
    if (this.done || raw.trim().length === 0) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      this.problem(line, cut ? 'truncated (the recording was cut off here)' : 'not JSON');
      return undefined;
    }
    if (this.messageCount === 0 && isForeignHello(json))
      throw new UserError('RECORDING_VERSION', `${this.path} uses protocol version ${String((json as { v: unknown }).v)}; this exitscope reads version ${PROTOCOL_VERSION}`, 'replay it with the exitscope version that recorded it (see docs/protocol.md)');
    const fast = fastSnapshot(json);
    const parsed = fast ? { success: true as const, data: fast } : MessageSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.problem(line, `not an exitscope message: ${issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'invalid'}`);
      return undefined;
    }
    const m = parsed.data;
    if (this.messageCount === 0 && m.type !== 'hello') throw this.notARecording('it does not start with a hello message');
    if (this.messageCount > 0 && m.type === 'hello') {
      // two recordings in one file (cat a b > c): summing the second into the first would be wrong
      // without a word, so the first is used and the second is said and left out
      this.problem(line, 'a second hello: another recording starts here; it and everything after it are ignored (the first recording is used)');
      this.done = true;
      return undefined;
    }
    this.messageCount++;
    return m;
  }

  /** After the last line: a file with no message at all is not a recording. */
  finish(): void {
    if (this.messageCount === 0) throw this.notARecording('no readable message');
  }

  private notARecording(why: string): UserError {
    const first = this.problems[0];
    return new UserError('RECORDING_INVALID', `${this.path} is not an exitscope recording: ${why}${first ? ` (line ${first.line}: ${first.message})` : ''}`, 'record one with: exitscope record -o FILE');
  }
}
