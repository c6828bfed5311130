/**
 * Recordings against the system: writes that fail (a full disk is /dev/full: every write is
 * ENOSPC; /proc/self/mem at offset 0 is EIO), and files that are not recordings (a FIFO with no
 * writer, /dev/zero, a directory), lines too long to be ours, two recordings in one file.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { Message } from '../../src/protocol/messages.js';
import { parseRecording, readRecording, RecordingFile, RecordingWriter } from '../../src/recording/recording.js';
import { codeOf } from './support/user-error-code.js';

const REC = readFileSync(join(import.meta.dirname, '../fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8');
const msgs = parseRecording(REC).messages;
const dir = mkdtempSync(join(tmpdir(), 'rec-io-'));

describe('RecordingWriter: a failed write is a UserError, said once, and writing stops', () => {
  it.runIf(existsSync('/dev/full'))('/dev/full (ENOSPC): RECORDING_WRITE with the reason and a fix; later writes do nothing', () => {
    const failures: UserError[] = [];
    const w = new RecordingWriter('/dev/full', { onFailure: (e) => failures.push(e) });
    for (const m of msgs) w.write(m);
    w.close();
    expect(failures).toHaveLength(1);
    expect(failures[0]?.code).toBe('RECORDING_WRITE');
    expect(failures[0]?.message).toMatch(/ENOSPC/);
    expect(failures[0]?.fix).toMatch(/free space .* or write elsewhere with -o/);
    expect(w.failed).toBe(true);
    expect(w.lines).toBe(0);
  });

  it.runIf(existsSync('/dev/full'))('without onFailure, the first failed write throws the UserError (not a raw system error)', () => {
    const w = new RecordingWriter('/dev/full');
    expect(codeOf(() => w.write(msgs[0] as Message))).toBe('RECORDING_WRITE');
    expect(() => w.write(msgs[1] as Message)).not.toThrow();
    w.close();
  });

  it.runIf(existsSync('/proc/self/mem'))('/proc/self/mem (EIO) is the same class of failure', () => {
    const failures: UserError[] = [];
    const w = new RecordingWriter('/proc/self/mem', { onFailure: (e) => failures.push(e) });
    w.write(msgs[0] as Message);
    w.close();
    expect(failures.map((e) => e.code)).toEqual(['RECORDING_WRITE']);
    expect(failures[0]?.message).toMatch(/EIO|input\/output/i);
  });

  it('a disk that fills mid-line: the file stays readable and its last lines say why it ends', () => {
    // the kernel takes part of a line, then ENOSPC: what a filling disk does
    class FillingDisk extends RecordingWriter {
      budget = REC.length / 2;
      protected override writeSome(bytes: Buffer, from: number): number {
        if (this.budget <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        const n = Math.min(bytes.length - from, this.budget);
        this.budget -= n;
        return super.writeSome(bytes.subarray(0, from + n), from);
      }
    }
    const path = join(dir, 'filling.jsonl');
    const failures: UserError[] = [];
    const w = new FillingDisk(path, { onFailure: (e) => failures.push(e) });
    for (const m of msgs) w.write(m);
    w.close();
    expect(failures).toHaveLength(1);
    const back = parseRecording(readFileSync(path, 'utf8'));
    expect(back.problems).toHaveLength(1); // the half line
    expect(back.problems[0]?.message).toBe('not JSON');
    expect(back.messages.slice(0, w.lines)).toEqual(msgs.slice(0, w.lines));
    expect(back.messages.slice(w.lines)).toEqual([
      { type: 'error', t: expect.any(Number), code: 'RECORDING_WRITE', message: failures[0]?.message },
      { type: 'end', t: expect.any(Number), complete: false },
    ]);
  });
});

describe('reading: only regular files, in bounded memory', () => {
  it('a FIFO with no writer is refused at once (not waited on)', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(codeOf(() => readRecording(fifo))).toBe('RECORDING_NOT_FILE');
  });

  it.runIf(existsSync('/dev/zero'))('/dev/zero (endless) and a directory are refused', () => {
    expect(codeOf(() => readRecording('/dev/zero'))).toBe('RECORDING_NOT_FILE');
    expect(codeOf(() => readRecording(dir))).toBe('RECORDING_NOT_FILE');
    expect(codeOf(() => readRecording(join(dir, 'missing')))).toBe('RECORDING_READ');
  });

  it('reads the same messages as the text parser, lines spanning read chunks included', () => {
    // one snapshot line of ~3 MB crosses the 1 MiB chunks
    const snap = msgs.find((m) => m.type === 'snapshot');
    if (snap?.type !== 'snapshot') throw new Error('fixture has a snapshot');
    const big = { ...snap, exits: Array.from({ length: 40_000 }, (_, i) => ({ ...snap.exits[0]!, tid: 1000 + i })) };
    const text = `${[msgs[0], big, ...msgs.slice(1)].map((m) => JSON.stringify(m)).join('\n')}\n`;
    const path = join(dir, 'big.jsonl');
    writeFileSync(path, text);
    expect(readRecording(path)).toEqual(parseRecording(text, path));
    expect(readRecording(path).messages[1]).toEqual(big);
  });

  it('a line longer than the limit is skipped unread, with its number; the rest is kept', () => {
    const lines = REC.trimEnd().split('\n');
    const path = join(dir, 'long.jsonl');
    writeFileSync(path, `${[lines[0], 'x'.repeat(5000), ...lines.slice(1)].join('\n')}\n`);
    const r = readRecording(path, { maxLineBytes: 4096 });
    expect(r.problems).toEqual([{ line: 2, message: 'line too long (more than 4096 bytes): skipped' }]);
    expect(r.messages).toEqual(msgs);
    // also as the last, unterminated line
    appendFileSync(path, 'y'.repeat(10_000));
    expect(readRecording(path, { maxLineBytes: 4096 }).problems.at(-1)).toEqual({ line: lines.length + 2, message: 'line too long (more than 4096 bytes): skipped' });
  });

  it('a truncated last line in a file is reported as cut off', () => {
    const path = join(dir, 'cut.jsonl');
    writeFileSync(path, REC.slice(0, REC.length - 40));
    const r = readRecording(path);
    expect(r.problems).toEqual([{ line: REC.trimEnd().split('\n').length, message: 'truncated (the recording was cut off here)' }]);
  });

  it('problems are kept up to 100 with their text, and all are counted', () => {
    const path = join(dir, 'garbage.jsonl');
    writeFileSync(path, `${REC}${'garbage\n'.repeat(5000)}`);
    const r = readRecording(path);
    expect(r.problems).toHaveLength(100);
    expect(r.problemCount).toBe(5000);
    expect(r.messages).toEqual(msgs);
  });

  it('stopping early (replay | head) closes the file', () => {
    const path = join(dir, 'early.jsonl');
    writeFileSync(path, REC);
    const openFds = (): number => readdirSync('/proc/self/fd').length;
    const before = openFds();
    const file = new RecordingFile(path);
    for (const m of file) if (m.type === 'hello') break;
    expect(openFds()).toBe(before);
    expect(() => [...new RecordingFile(join(dir, 'missing'))]).toThrow(UserError);
    expect(openFds()).toBe(before);
  });
});

describe('two recordings in one file (cat a b > c)', () => {
  it('the second hello is a problem with its line number; the first recording is used, the second not summed into it', () => {
    const n = REC.trimEnd().split('\n').length;
    const r = parseRecording(`${REC}${REC}`);
    expect(r.messages).toEqual(msgs);
    expect(r.problems).toEqual([{ line: n + 1, message: expect.stringMatching(/^a second hello: another recording starts here/) }]);
    const path = join(dir, 'twice.jsonl');
    writeFileSync(path, `${REC}${REC}`);
    expect(readRecording(path)).toEqual({ ...r, messages: msgs });
  });
});
