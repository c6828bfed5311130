/**
 * Text from outside (VM names, host and kernel strings, error and gap messages, handler names,
 * flame frames: anything from a recording, a remote server or another process) made safe to
 * print on a terminal. A raw ESC or CSI can retitle, clear or rewrite the viewer's terminal, a
 * CR or backspace can overprint a line, and bidi overrides can make text read as something else.
 *
 * Every such character becomes its escape spelled out as visible text: ESC is printed as the
 * four characters `\x1b`, U+202E as `\u202e`. Why this form and not '?' or U+FFFD: the reader
 * still sees which character was there (a VM name is an identifier someone may need to find),
 * and it is the spelling JSON and JavaScript use, so `report -f json` (which keeps the raw value)
 * and the terminal agree. Caret notation (^[) cannot name C1 or bidi characters.
 *
 * Backslashes themselves are left alone: a name that already reads `\x1b` is harmless text, and
 * doubling every backslash would change ordinary output for no safety gain.
 *
 * The views apply this where they read model strings (the report formatter, plain top, the
 * dashboard's view model, stream notices), so a new field is covered without anyone
 * remembering. JSON output never goes through here: it must keep the exact value.
 */

/**
 * C0 controls (NUL..US, including TAB, LF, CR, BS, BEL, ESC), DEL, C1 controls (0x80..0x9f,
 * including the one-byte CSI 0x9b), the bidi marks, embeddings, overrides and isolates
 * (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), and the line and paragraph
 * separators (U+2028, U+2029), which some terminals and renderers treat as line breaks.
 * A character class without the brackets, so that other cleaners (flame frames) extend one list.
 */
export const UNSAFE_TEXT_CHARS = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';

const UNSAFE = new RegExp(`[${UNSAFE_TEXT_CHARS}]`, 'gu');

function visible(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One string, safe to print: every control or bidi character spelled out as its escape. */
export function safeText(s: string): string {
  // the test first: most strings are clean, and then no new string is made
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(s) ? s.replace(UNSAFE, visible) : s;
}

/** The unsafe characters JSON.stringify leaves raw (it escapes only C0): DEL, C1, bidi, separators. */
const RAW_IN_JSON = new RegExp(`[${UNSAFE_TEXT_CHARS.replace('\\u0000-\\u001f', '')}]`, 'gu');

/**
 * JSON text (from JSON.stringify) safe to print: the unsafe characters it leaves raw become \u
 * escapes. The same JSON value (JSON.parse gives back the exact string), but a terminal shown
 * `report -f json` never meets a raw one-byte CSI (0x9b) or a bidi override. Only characters
 * inside strings can be unsafe (JSON's own structure is ASCII), so nothing else changes.
 */
export function safeJson(json: string): string {
  return json.replace(RAW_IN_JSON, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

/**
 * A copy of plain data (objects, arrays) with every string value through safeText, for a view
 * to read instead of the model's own: fields added later are covered by default. Anything that
 * is not plain data (a Map, a class instance) is returned as it is; keys are not changed.
 */
export function safeStrings<T>(value: T): T {
  if (typeof value === 'string') return safeText(value) as T;
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v: unknown) => safeStrings(v)) as T;
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = safeStrings(v);
  return out as T;
}
