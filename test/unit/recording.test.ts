import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { parseRecording, RecordingWriter } from '../../src/recording/recording.js';

const REC = readFileSync(join(import.meta.dirname, '../fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8');
const lines = REC.trimEnd().split('\n');

describe('parseRecording', () => {
  it('reads a real recording: hello first, end last, no problems', () => {
    const r = parseRecording(REC);
    expect(r.problems).toEqual([]);
    expect(r.messages[0]?.type).toBe('hello');
    expect(r.messages.at(-1)).toMatchObject({ type: 'end', complete: true });
  });

  it('a truncated recording: the cut line is reported by number, everything before it is kept', () => {
    const cut = REC.slice(0, REC.length - 40);
    const r = parseRecording(cut);
    expect(r.problems).toEqual([{ line: lines.length, message: 'truncated (the recording was cut off here)' }]);
    expect(r.messages).toHaveLength(lines.length - 1);
  });

  it('a corrupt line in the middle is skipped with its number; the rest is kept', () => {
    const bad = [...lines];
    bad[2] = '{"type":"snapshot","seq":"x"}';
    bad[3] = 'garbage';
    const r = parseRecording(`${bad.join('\n')}\n`);
    expect(r.problems.map((p) => p.line)).toEqual([3, 4]);
    expect(r.problems[0]?.message).toMatch(/not an exitscope message: seq/);
    expect(r.problems[1]?.message).toBe('not JSON');
    expect(r.messages).toHaveLength(lines.length - 2);
  });

  it('refuses another protocol version with a clear error, not a pile of bad lines', () => {
    const v2 = [lines[0]!.replace('"v":1', '"v":2'), ...lines.slice(1)].join('\n');
    expect(() => parseRecording(v2, 'new.jsonl')).toThrow(/new\.jsonl uses protocol version 2; this exitscope reads version 1/);
    try {
      parseRecording(v2);
    } catch (e) {
      expect((e as UserError).code).toBe('RECORDING_VERSION');
    }
  });

  it('refuses a file that is not a recording', () => {
    expect(() => parseRecording('hello world\n')).toThrow(UserError);
    expect(() => parseRecording(`${lines[1]}\n`)).toThrow(/does not start with a hello/);
  });
});

describe('RecordingWriter', () => {
  it('writes each message as one line, readable at once (nothing buffered to lose)', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'rec-')), 'r.jsonl');
    const w = new RecordingWriter(path);
    const msgs = parseRecording(REC).messages;
    w.write(msgs[0]!);
    expect(readFileSync(path, 'utf8')).toBe(`${JSON.stringify(msgs[0])}\n`);
    for (const m of msgs.slice(1)) w.write(m);
    w.close();
    expect(parseRecording(readFileSync(path, 'utf8')).messages).toEqual(msgs);
  });

  it('says which path it cannot write', () => {
    expect(() => new RecordingWriter('/no/such/dir/r.jsonl')).toThrow(/cannot write \/no\/such\/dir\/r.jsonl/);
  });
});

it('the corrupt-file fixture round trip leaves the original untouched', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rec2-'));
  writeFileSync(join(dir, 'x'), REC);
  expect(readFileSync(join(dir, 'x'), 'utf8')).toBe(REC);
});
