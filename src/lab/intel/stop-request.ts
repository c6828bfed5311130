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
 * Guest seconds: the guest keeps time on HPET (iso-plan.ts: tsc=unstable), where a `sleep 1` took
 * about a host second in the runs of 2026-11-28 (on the TSC, before, a guest second took 45-60).
 * A poll every second (three short processes, a fraction of a percent of the guest's CPU); two
 * minutes before SIGKILL, as exitscope run needed some 20 host seconds under Bochs from SIGINT to its
 * report written, and well inside the host's backstop (run.ts STOP_BACKSTOP_SECONDS).
 */
export const STOP_POLL_GUEST_SECONDS = 1;
/** Guest seconds between the SIGINT and the SIGKILL. */
export const STOP_GRACE_GUEST_SECONDS = 120;

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
