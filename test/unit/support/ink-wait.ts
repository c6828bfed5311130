/**
 * Ink applies keys and store changes asynchronously, and how soon depends on the machine's
 * load: a test that sleeps a fixed time and then reads the frame fails at random on a busy CI
 * machine. These wait for what a step must lead to, with a generous bound, instead.
 */
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

export const plainText = (frame: string | undefined): string => (frame ?? '').replace(ANSI, '');

/** The first frame (colour removed) for which `ok` holds; fails with the last frame after `ms`. */
export async function frameWhere(lastFrame: () => string | undefined, ok: (frame: string) => boolean, what: string, ms = 10_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const f = plainText(lastFrame());
    if (ok(f)) return f;
    if (Date.now() - t0 > ms) throw new Error(`the frame never showed ${what}; the last one:\n${f}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until a condition on something other than the frame holds (e.g. a callback was called). */
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
