/**
 * The server's log of what went wrong with one client (a handler that threw,
 * a client terminated for an unfinished message). Lines may carry what a client
 * sent, so control characters are escaped (no terminal escape sequences reach a
 * terminal) and lines are cut short; and lines are rate-limited so that a flood
 * of bad clients cannot fill a disk: at most `perWindow` lines per `windowMs`,
 * then one line saying how many were left out.
 */
export interface ServerLogOptions {
  perWindow?: number;
  windowMs?: number;
  maxLineChars?: number;
  now?: () => number;
}

export type ServerLog = (line: string) => void;

// C0 controls (but not plain text), DEL, C1 controls, and the Unicode line/paragraph separators
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

export function printable(text: string, maxChars = 300): string {
  const escaped = text.replace(UNPRINTABLE, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > maxChars ? `${escaped.slice(0, maxChars)}…` : escaped;
}

export function rateLimitedLog(sink: (line: string) => void, o: ServerLogOptions = {}): ServerLog {
  const perWindow = o.perWindow ?? 20;
  const windowMs = o.windowMs ?? 60_000;
  const now = o.now ?? Date.now;
  let windowStart = -Infinity;
  let written = 0;
  let leftOut = 0;
  return (line) => {
    const t = now();
    if (t - windowStart >= windowMs) {
      if (leftOut > 0) sink(`${leftOut} more line${leftOut === 1 ? '' : 's'} left out (rate limit)`);
      windowStart = t;
      written = 0;
      leftOut = 0;
    }
    if (written >= perWindow) {
      leftOut++;
      return;
    }
    written++;
    sink(printable(line, o.maxLineChars));
  };
}

export const stderrLine = (line: string): void => {
  process.stderr.write(`exitscope: server: ${line}\n`);
};
