/**
 * Stopping the Intel lab's command without losing what it wrote. Bochs gives the guest no input
 * from the host (its serial ports are files it writes), so a stop request travels on a disk of its
 * own: the host writes STOP_WORD at its first byte, and the guest's /init, which reads the first
 * sector every STOP_POLL_GUEST_SECONDS with O_DIRECT (Bochs reads a flat image from the file on every access, and
 * O_DIRECT keeps the guest's page cache from answering instead), sends SIGINT to the command's
 * process group, as a terminal's Ctrl-C would (exitscope writes its recording and report then),
 * SIGKILL if it is still there STOP_GRACE_GUEST_SECONDS later, and then copies back as usual.
 */
import { closeSync, openSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { CTL_DISK_BYTES } from './bochsrc.js';

/** What the host writes; the guest matches it at the start of the first sector. */
export const STOP_WORD = 'stop';

/**
 * Guest time under Bochs (`clock: sync=none`) is not the host's: in the runs of 2026-11-28 a guest
 * second took 45 to 60 host seconds, idle or busy (the same step timed by the guest's
 * /proc/uptime and by the host; a first cut that polled every guest second answered a stop 53 s
 * late). Hence small guest figures: a poll every 0.1 guest s (some 5 s on the host; three short
 * processes each, about 1% of the guest's CPU) and 3 guest s (some 2-3 minutes) before SIGKILL,
 * well inside the host's backstop (run.ts STOP_BACKSTOP_SECONDS). exitscope run needed about 20
 * host seconds from SIGINT to its report being written.
 */
export const STOP_POLL_GUEST_SECONDS = 0.1;
/** Guest seconds between the SIGINT and the SIGKILL (see STOP_POLL_GUEST_SECONDS for what that is on the host). */
export const STOP_GRACE_GUEST_SECONDS = 3;

/** A fresh control disk: zeros (no request), sparse. */
export function createCtlDisk(path: string, bytes = CTL_DISK_BYTES): void {
  writeFileSync(path, '');
  truncateSync(path, bytes);
}

/** Asks the guest to stop the command (idempotent). */
export function requestStop(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, `${STOP_WORD}\n`, 0);
  } finally {
    closeSync(fd);
  }
}
