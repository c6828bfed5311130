/**
 * Copy-back: what the command wrote in its directory comes home on a disk Bochs gives the guest.
 * The host makes the disk (sparse, so its size costs nothing until written); /init writes the
 * changed regular files onto it from sector 0 as a "newc" cpio archive (busybox's tar cannot take
 * a file list; its cpio can); the host reads the archive back here and writes each regular file
 * under the current directory. Only relative paths without ".." are taken, only regular files are
 * written (never devices, links or owners), and the archive ends at its trailer. An untouched
 * disk starts with zeros: nothing was written.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { UserError } from '../../errors.js';
import { OUT_DISK_BYTES } from './bochsrc.js';

export function createOutDisk(path: string, bytes = OUT_DISK_BYTES): void {
  writeFileSync(path, '');
  truncateSync(path, bytes);
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const HEADER = 110;

/** True when the disk holds an archive (it starts with the newc magic). */
export function diskHasArchive(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(6);
    return readSync(fd, head, 0, 6, 0) === 6 && head.toString('ascii') === '070701';
  } finally {
    closeSync(fd);
  }
}

/** A member name as a path under the directory, or undefined when it would leave it. */
export function safeMemberPath(name: string): string | undefined {
  const rel = normalize(name.replace(/^(\.\/)+/, ''));
  if (rel === '' || rel === '.' || rel.startsWith('/') || rel === '..' || rel.startsWith(`..${sep}`) || rel.includes('\0')) return undefined;
  return rel;
}

function fail(message: string): never {
  throw new UserError('LAB_COPY_BACK', `the guest's copy-back archive is unreadable: ${message}`, 'retry; see ~/.cache/exitscope/lab/last-console.log');
}

/**
 * Writes the regular files of the archive on `disk` under `into`; returns the paths written
 * (relative). Errors writing a file are LAB_COPY_BACK with the file named.
 */
export function copyBack(disk: string, into: string, maxEntries = 1_000_000): string[] {
  if (!diskHasArchive(disk)) return [];
  const fd = openSync(disk, 'r');
  const written: string[] = [];
  try {
    let off = 0;
    for (let n = 0; n < maxEntries; n++) {
      const head = Buffer.alloc(HEADER);
      if (readSync(fd, head, 0, HEADER, off) !== HEADER || head.toString('ascii', 0, 6) !== '070701') fail(`no cpio header at offset ${off}`);
      const field = (i: number): number => {
        const text = head.toString('ascii', 6 + i * 8, 14 + i * 8);
        if (!/^[0-9a-fA-F]{8}$/.test(text)) fail(`bad header field at offset ${off}`);
        return parseInt(text, 16);
      };
      const mode = field(1);
      const size = field(6);
      const nameSize = field(11);
      if (nameSize < 1 || nameSize > 4096) fail(`bad name size ${nameSize} at offset ${off}`);
      const nameBuf = Buffer.alloc(nameSize);
      readSync(fd, nameBuf, 0, nameSize, off + HEADER);
      const name = nameBuf.toString('utf8', 0, nameSize - 1);
      let data = off + HEADER + nameSize;
      data += (4 - (data % 4)) % 4;
      if (name === 'TRAILER!!!') return written;
      const rel = safeMemberPath(name);
      if ((mode & S_IFMT) === S_IFREG && rel !== undefined) {
        const target = join(into, rel);
        try {
          mkdirSync(dirname(target), { recursive: true });
          const out = openSync(target, 'w');
          try {
            const chunk = Buffer.alloc(1 << 20);
            for (let done = 0; done < size; ) {
              const want = Math.min(chunk.length, size - done);
              const got = readSync(fd, chunk, 0, want, data + done);
              if (got !== want) fail(`${name} ends early`);
              writeSync(out, chunk, 0, got);
              done += got;
            }
          } finally {
            closeSync(out);
          }
          chmodSync(target, mode & 0o777);
        } catch (e) {
          if (e instanceof UserError) throw e;
          throw new UserError('LAB_COPY_BACK', `could not write ${target}: ${(e as Error).message}`, `check that ${into} is writable and has free space`);
        }
        written.push(rel);
      }
      off = data + size;
      off += (4 - (off % 4)) % 4;
    }
    fail(`more than ${maxEntries} entries`);
  } finally {
    closeSync(fd);
  }
}
