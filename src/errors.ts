/**
 * Errors a user can act on. Each carries a stable `code` (documented in
 * docs/errors.md) and a `fix`: the command or change that makes it go away.
 * Only bugs are shown with a stack; these are printed as "error: ... / fix: ...".
 */
import { safeText } from './views/safe-text.js';

export class UserError extends Error {
  readonly code: string;
  readonly fix: string;

  constructor(code: string, message: string, fix: string) {
    super(message);
    this.name = 'UserError';
    this.code = code;
    this.fix = fix;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/**
 * The text a CLI prints for a user error: what went wrong, then how to fix it. Messages quote
 * outside text (a recording's path and content, a server's answer): each line is neutralised.
 */
export function formatUserError(e: UserError): string {
  const lines = (s: string): string => s.split('\n').map(safeText).join('\n');
  return `exitscope: error [${safeText(e.code)}]: ${lines(e.message)}\n  fix: ${lines(e.fix)}`;
}
