/**
 * How fast `serve --replay` plays a recording: the messages' `t` (ms since the recording
 * started) divided by the speed. Speed 0 (`--speed max`) is as fast as possible: no waits at all,
 * the server's backpressure (exact snapshot merging) keeps slow clients exact. Pure.
 */

/** Long pauses in a recording (a bpftrace restart, an idle stretch) are cut to this, as the dashboard's replay does. */
export const MAX_PAUSE_MS = 2000;

/** `--speed` as typed: a factor from 0.01 to 1000, or `max` / `0` for as fast as possible (returned as 0). */
export function parseSpeed(value: string): number {
  if (value === 'max') return 0;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || (n !== 0 && (n < 0.01 || n > 1000))) throw new Error(`--speed takes a factor from 0.01 to 1000, or max (0 is max), not '${value}'`);
  return n;
}

/** The wait before a message stamped `t` when the previous one was stamped `prevT`. */
export function pauseBefore(prevT: number, t: number, speed: number): number {
  if (speed <= 0 || t <= prevT) return 0;
  return Math.min(MAX_PAUSE_MS, (t - prevT) / speed);
}

/** "at 4x", "as fast as possible": for the notices. */
export function describeSpeed(speed: number): string {
  return speed <= 0 ? 'as fast as possible' : speed === 1 ? 'at the recorded pace' : `at ${speed}x the recorded pace`;
}
