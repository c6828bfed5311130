/**
 * The server's log of what went wrong with one client (a handler that threw,
 * a client terminated for an unfinished message). Lines may carry what a client
 * sent, so control characters are escaped (no terminal escape sequences reach a
 * terminal) and lines are cut short; and lines are rate-limited so that a flood
 * of bad clients cannot fill a disk: at most `perWindow` lines per `windowMs`,
 * then one line saying how many were left out.
 */
import { safeText } from '../views/safe-text.js';

export interface ServerLogOptions {
  perWindow?: number;
  windowMs?: number;
  maxLineChars?: number;
  now?: () => number;
}

export type ServerLog = (line: string) => void;

export function printable(text: string, maxChars = 300): string {
  // the one neutraliser of text from outside: controls, DEL, C1, bidi overrides, line separators
  const escaped = safeText(text);
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
