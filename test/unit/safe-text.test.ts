/**
 * safe-text: the one neutraliser of control and bidi characters for every text view.
 * Each dangerous character comes out spelled as its escape; ordinary text (accents, CJK,
 * emoji, a literal backslash) is untouched; safeStrings walks plain data without mutating it.
 */
import { describe, expect, it } from 'vitest';
import { cleanName } from '../../src/flame/profile.js';
import { safeJson, safeStrings, safeText } from '../../src/views/safe-text.js';

describe('safeText', () => {
  it.each([
    ['ESC (an OSC that retitles the terminal)', '\x1b]0;pwned\x07', '\\x1b]0;pwned\\x07'],
    ['ESC [2J (clear screen)', '\x1b[2J', '\\x1b[2J'],
    ['the one-byte C1 CSI', '\x9b2J', '\\x9b2J'],
    ['CR (overprints the line)', 'a\rb', 'a\\x0db'],
    ['LF and TAB', 'a\nb\tc', 'a\\x0ab\\x09c'],
    ['backspace, DEL, NUL', '\b\x7f\x00', '\\x08\\x7f\\x00'],
    ['other C1 controls', '\x80\x85\x9f', '\\x80\\x85\\x9f'],
    ['right-to-left override', 'vm\u202egnp.exe', 'vm\\u202egnp.exe'],
    ['bidi embeddings and isolates', '\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069', '\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069'],
    ['bidi marks', '\u200e\u200f\u061c', '\\u200e\\u200f\\u061c'],
    ['line and paragraph separators', '\u2028\u2029', '\\u2028\\u2029'],
  ])('%s', (_what, raw, shown) => {
    expect(safeText(raw)).toBe(shown);
  });

  it('leaves ordinary text alone, including non-ASCII and literal backslashes', () => {
    for (const s of ['ci-3', 'vm ü日本 🚀', 'C:\\vm\\x1b', 'kvm_tdp_page_fault', '6.1.0-56-amd64', '']) expect(safeText(s)).toBe(s);
  });

  it('is stable: applying it twice changes nothing more (no control character survives the first)', () => {
    const once = safeText('\x1b]0;x\x07\u202e\r');
    expect(safeText(once)).toBe(once);
    expect(once).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
  });
});

describe('safeStrings', () => {
  it('neutralises every string in nested plain data and keeps everything else', () => {
    const input = { name: '\x1b[2J', n: 3, ok: true, none: null, list: ['\r', { deep: ['\u202e'] }], missing: undefined };
    const out = safeStrings(input);
    expect(out).toEqual({ name: '\\x1b[2J', n: 3, ok: true, none: null, list: ['\\x0d', { deep: ['\\u202e'] }], missing: undefined });
    // the model is not changed: views read a copy
    expect(input.name).toBe('\x1b[2J');
  });

  it('leaves what is not plain data (a Map, a class instance) as it is', () => {
    const map = new Map([['k', '\x1b']]);
    const date = new Date(0);
    const out = safeStrings({ map, date });
    expect(out.map).toBe(map);
    expect(out.date).toBe(date);
  });
});

describe('safeJson', () => {
  it('escapes what JSON.stringify leaves raw (DEL, C1, bidi, separators); JSON.parse gives back the exact value', () => {
    const value = { name: '\x1b]0;x\x07\x9b2J\x7f\x85\u202e\u2066\u2028 ü 🚀 \\x', list: ['\r\n\t'] };
    const json = safeJson(JSON.stringify(value, null, 2));
    expect(json).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    expect(json).toContain('\\u009b');
    expect(json).toContain('ü 🚀');
    expect(JSON.parse(json)).toEqual(value);
  });
});

describe('flame frame names (cleanName) use the same list', () => {
  it('turns control and bidi characters into ?', () => {
    expect(cleanName('a\x1b[2Jb\u202ec\u2066d\x9be')).toBe('a?[2Jb?c?d?e');
  });
});
