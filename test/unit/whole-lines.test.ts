/**
 * WholeLines (src/lab/whole-lines.ts): the labs pass the guest's stdout and stderr on a whole line
 * at a time, so that on a terminal one stream's line is not cut by the other's.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WholeLines } from '../../src/lab/whole-lines.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('WholeLines', () => {
  it('two streams into one terminal: every line arrives whole, whatever the chunks', () => {
    const terminal: string[] = [];
    const out = new WholeLines((b) => terminal.push(b.toString()));
    const err = new WholeLines((b) => terminal.push(b.toString()));
    // the report's first row, cut by the serial port, with stderr's line arriving in between
    out.push(Buffer.from('exitscope report: lab\nIO_INSTRUCTION  vmx 30 '));
    err.push(Buffer.from('exitscope: recording written\n'));
    out.push(Buffer.from('  1009\nHLT  vmx 12  2\n'));
    out.flush();
    err.flush();
    expect(terminal.join('')).toBe('exitscope report: lab\nexitscope: recording written\nIO_INSTRUCTION  vmx 30   1009\nHLT  vmx 12  2\n');
  });

  it('a line in many chunks is written once, when its end comes; bytes are kept exactly (UTF-8 split too)', () => {
    const got: Buffer[] = [];
    const w = new WholeLines((b) => got.push(Buffer.from(b)));
    const text = Buffer.from('caf\u00e9 \u2603 one\ntwo\n');
    for (let i = 0; i < text.length; i++) w.push(text.subarray(i, i + 1));
    expect(got.map((b) => b.toString())).toEqual(['caf\u00e9 \u2603 one\n', 'two\n']);
    expect(Buffer.concat(got).equals(text)).toBe(true);
  });

  it('a line with no end yet goes out after the hold time (a prompt), and what is left at flush()', () => {
    vi.useFakeTimers();
    const got: string[] = [];
    const w = new WholeLines((b) => got.push(b.toString()), 200);
    w.push(Buffer.from('Password: '));
    vi.advanceTimersByTime(199);
    expect(got).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(got).toEqual(['Password: ']);
    w.push(Buffer.from('tail without newline'));
    w.flush();
    expect(got).toEqual(['Password: ', 'tail without newline']);
    w.flush();
    expect(got).toHaveLength(2);
  });

  it('keeps its own copy of a held part (the caller may reuse its buffer)', () => {
    const got: string[] = [];
    const w = new WholeLines((b) => got.push(b.toString()));
    const reused = Buffer.from('abc');
    w.push(reused);
    reused.write('xyz');
    w.push(Buffer.from('\n'));
    expect(got).toEqual(['abc\n']);
  });
});
