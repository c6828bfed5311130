/**
 * Recordings: the message stream written as JSON Lines, one message a line,
 * hello first. Written synchronously, a line at a time, so that Ctrl-C or a
 * crash loses at most the line being written; read back tolerantly: a
 * truncated or corrupt line is reported with its number and the rest is kept.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { UserError } from '../errors.js';
import { type Message, Message as MessageSchema, PROTOCOL_VERSION } from '../protocol/messages.js';
import { safeText } from '../views/safe-text.js';

const isForeignHello = (j: unknown): boolean => typeof j === 'object' && j !== null && (j as { type?: unknown }).type === 'hello' && (j as { v?: unknown }).v !== PROTOCOL_VERSION;

export class RecordingWriter {
  private readonly fd: number;
  lines = 0;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (e) {
      throw new UserError('RECORDING_OPEN', `cannot write ${path}: ${(e as Error).message}`, 'pick a writable path for -o');
    }
  }

  write(m: Message): void {
    writeSync(this.fd, `${JSON.stringify(m)}\n`);
    this.lines++;
  }

  close(): void {
    closeSync(this.fd);
  }
}

export interface Problem {
  line: number;
  message: string;
}

export interface ReadResult {
  messages: Message[];
  problems: Problem[];
}

export function parseRecording(text: string, path = 'recording'): ReadResult {
  const messages: Message[] = [];
  const problems: Problem[] = [];
  const lines = text.split('\n');
  const lastIndex = text.endsWith('\n') ? lines.length - 2 : lines.length - 1;
  lines.forEach((raw, i) => {
    if (raw.trim().length === 0) return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      problems.push({ line: i + 1, message: i === lastIndex && !text.endsWith('\n') ? 'truncated (the recording was cut off here)' : 'not JSON' });
      return;
    }
    if (messages.length === 0 && isForeignHello(json))
      throw new UserError('RECORDING_VERSION', `${path} uses protocol version ${String((json as { v: unknown }).v)}; this exitscope reads version ${PROTOCOL_VERSION}`, 'replay it with the exitscope version that recorded it (see docs/protocol.md)');
    const parsed = MessageSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      problems.push({ line: i + 1, message: `not an exitscope message: ${issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'invalid'}` });
      return;
    }
    messages.push(parsed.data);
  });
  if (messages.length === 0 || messages[0]?.type !== 'hello')
    throw new UserError('RECORDING_INVALID', `${path} is not an exitscope recording: ${messages.length === 0 ? 'no readable message' : 'it does not start with a hello message'}${problems[0] ? ` (line ${problems[0].line}: ${problems[0].message})` : ''}`, 'record one with: exitscope record -o FILE');
  return { messages, problems };
}

export function readRecording(path: string): ReadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError('RECORDING_READ', `cannot read ${path}: ${(e as Error).message}`, 'check the path');
  }
  return parseRecording(text, path);
}

export function describeProblems(path: string, problems: Problem[]): string {
  const shown = problems.slice(0, 5).map((p) => safeText(`  ${path}:${p.line}: ${p.message}`));
  if (problems.length > 5) shown.push(`  ... and ${problems.length - 5} more`);
  return `exitscope: warning: ${problems.length} unreadable line(s) skipped; the rest is used:\n${shown.join('\n')}`;
}
