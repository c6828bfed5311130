import { UserError } from '../../../src/errors.js';

/** The code of the UserError `f` throws, undefined when it returns; anything else thrown is rethrown. */
export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof UserError) return e.code;
    throw e;
  }
  return undefined;
}
