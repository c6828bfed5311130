/**
 * How the Intel lab's guest talks to the host: Bochs writes each serial port to a file in the run
 * directory (com1 = ttyS0: the console, com2 = ttyS1: the command's stdout, com3 = ttyS2: its
 * stderr), and the host follows the files as they grow. /init's events are console lines
 * "exitscope-lab: <event>" (the same prefix as the QEMU lab's):
 *
 *   stage init | modules | media | ready        boot progress
 *   stage kvm ept=Y unrestricted_guest=Y        kvm_intel is loaded
 *   error CODE message                          boot failed (preflight.ts maps CODE to a fix)
 *   note message                                something the user should know
 *   stopping                                    the host asked for a stop: the command got SIGINT
 *   status N                                    the command ended with status N
 *   copied N                                    N files were written to the output disk
 *   stage done N                                all done; the guest powers off
 *
 * Bochs exits with status 1 even after a clean power-off, so the command's status comes only
 * from its "status N" line; a run without one failed.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { EVENT_PREFIX } from '../init-script.js';

export { EVENT_PREFIX };

/** Where the run ISO's control files are in the guest (the same path as the QEMU lab's ctl share). */
export const GUEST_CTL = '/run/exitscope-lab';
/** kvm_intel's module in the guest, to reload it with the other ept= (init-script.ts copies it there). */
export const GUEST_MODULES = `${GUEST_CTL}/modules`;
/**
 * The guest's names for its two disks, shell variables that /init sets by each disk's size: the
 * output disk (Bochs' ata1-master) and the control disk (ata1-slave), where the host writes a stop
 * request (stop-request.ts). Not /dev/sda and /dev/sdb: the kernel names disks in the order it
 * probes them, which is asynchronous, and one run's copy-back went to the control disk that way.
 */
export const OUT_DEVICE = '$OUT_DEV';
export const CTL_DEVICE = '$CTL_DEV';

export type GuestEvent =
  | { kind: 'stage'; stage: 'init' | 'modules' | 'media' | 'ready' }
  | { kind: 'kvm'; ept: boolean; unrestrictedGuest: boolean }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'note'; message: string }
  | { kind: 'stopping' }
  | { kind: 'status'; status: number }
  | { kind: 'copied'; files: number }
  | { kind: 'done'; status: number };

const yes = (v: string | undefined): boolean => v === 'Y' || v === 'y' || v === '1';

/** The event on a console line, if it carries one (kernel lines may precede the prefix). */
export function parseEvent(line: string): GuestEvent | undefined {
  const at = line.indexOf(EVENT_PREFIX);
  if (at < 0) return undefined;
  const [kind, what = '', ...rest] = line.slice(at + EVENT_PREFIX.length).trim().split(' ');
  const int = (s: string | undefined): number | undefined => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);
  switch (kind) {
    case 'stage': {
      if (what === 'init' || what === 'modules' || what === 'media' || what === 'ready') return { kind: 'stage', stage: what };
      if (what === 'kvm') {
        const params = new Map(rest.map((kv) => kv.split('=') as [string, string]));
        return { kind: 'kvm', ept: yes(params.get('ept')), unrestrictedGuest: yes(params.get('unrestricted_guest')) };
      }
      if (what === 'done') {
        const status = int(rest[0]);
        return status === undefined ? undefined : { kind: 'done', status };
      }
      return undefined;
    }
    case 'error':
      return { kind: 'error', code: what || 'unknown', message: rest.join(' ') };
    case 'note':
      return { kind: 'note', message: [what, ...rest].join(' ') };
    case 'stopping':
      return { kind: 'stopping' };
    case 'status': {
      const status = int(what);
      return status === undefined ? undefined : { kind: 'status', status };
    }
    case 'copied': {
      const files = int(what);
      return files === undefined ? undefined : { kind: 'copied', files };
    }
    default:
      return undefined;
  }
}

/** Splits a growing byte stream into lines (CR LF from the serial console, as LF). */
export class LineSplitter {
  private buf = '';
  push(text: string, onLine: (line: string) => void): void {
    this.buf += text;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      onLine(this.buf.slice(0, nl).replace(/\r$/, ''));
      this.buf = this.buf.slice(nl + 1);
    }
  }
  /** What is left without a newline (the last line of a stream that ended). */
  rest(): string {
    const r = this.buf;
    this.buf = '';
    return r;
  }
}

/**
 * Follows a file Bochs appends to: every poll hands over the bytes added since the last one.
 * Bochs creates the file when it starts; until then there is nothing to read.
 */
export class FileFollower {
  private offset = 0;
  private fd: number | undefined;
  constructor(private readonly path: string) {}

  /** The bytes added since the last call (empty when nothing was). */
  read(): Buffer {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.path, 'r');
      } catch {
        return Buffer.alloc(0);
      }
    }
    const chunks: Buffer[] = [];
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(this.fd, chunk, 0, chunk.length, this.offset);
      if (n <= 0) break;
      this.offset += n;
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
    return Buffer.concat(chunks);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
