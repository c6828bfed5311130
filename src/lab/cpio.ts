/**
 * A writer for the "newc" cpio format, the format the kernel unpacks an
 * initramfs from (Documentation/driver-api/early-userspace/buffer-format.rst).
 * Written here rather than shelling out to cpio(1) so that the archive's
 * contents are data we can test, and one fewer package is needed.
 */

export type CpioEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; data: Buffer }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; mode: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function record(ino: number, mode: number, name: string, data: Buffer, rdev: [number, number] = [0, 0]): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const header =
    '070701' +
    hex8(ino) +
    hex8(mode) +
    hex8(0) + // uid: root
    hex8(0) + // gid: root
    hex8((mode & 0o170000) === S_IFDIR ? 2 : 1) +
    hex8(0) + // mtime: fixed, so that the same inputs give the same archive
    hex8(data.length) +
    hex8(0) +
    hex8(0) +
    hex8(rdev[0]) +
    hex8(rdev[1]) +
    hex8(nameBytes.length) +
    hex8(0);
  const head = Buffer.concat([Buffer.from(header, 'ascii'), nameBytes]);
  return [head, pad4(head.length), data, pad4(data.length)];
}

/** Serialises entries, in the given order, followed by the trailer. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    if (path.length === 0) throw new Error('cpio entry with an empty path');
    switch (e.kind) {
      case 'dir':
        parts.push(...record(ino++, S_IFDIR | e.mode, path, Buffer.alloc(0)));
        break;
      case 'file':
        parts.push(...record(ino++, S_IFREG | e.mode, path, e.data));
        break;
      case 'symlink':
        parts.push(...record(ino++, S_IFLNK | 0o777, path, Buffer.from(e.target, 'utf8')));
        break;
      case 'chardev':
        parts.push(...record(ino++, S_IFCHR | e.mode, path, Buffer.alloc(0), [e.major, e.minor]));
        break;
    }
  }
  parts.push(...record(0, 0, 'TRAILER!!!', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

/** Reads back a newc archive (for tests and `exitscope lab --list-initramfs`). */
export function readCpio(buf: Buffer): { path: string; mode: number; size: number }[] {
  const out: { path: string; mode: number; size: number }[] = [];
  let off = 0;
  for (;;) {
    const magic = buf.toString('ascii', off, off + 6);
    if (magic !== '070701') throw new Error(`bad cpio magic at offset ${off}: ${JSON.stringify(magic)}`);
    const field = (i: number): number => parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const nameStart = off + 110;
    const path = buf.toString('utf8', nameStart, nameStart + nameSize - 1);
    let next = nameStart + nameSize;
    next += (4 - (next % 4)) % 4;
    next += size;
    next += (4 - (next % 4)) % 4;
    if (path === 'TRAILER!!!') return out;
    out.push({ path, mode, size });
    off = next;
    if (off >= buf.length) throw new Error('cpio archive ends without a trailer');
  }
}
