/**
 * Kernel modules as packages ship them: plain .ko, or compressed (.ko.xz in Debian's split
 * kernels, .ko.zst and .ko.gz elsewhere). The lab's initramfs carries them decompressed, so
 * busybox's insmod (which hands the bytes to init_module) loads them whatever the kernel's own
 * decompression support: the decompression happens here, on the host, when the archive is built.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../../errors.js';

export type ModuleCompression = 'xz' | 'zst' | 'gz';

/** The compression a module file's name says, if any. */
export function moduleCompression(path: string): ModuleCompression | undefined {
  const m = /\.ko\.(xz|zst|gz)$/.exec(path);
  return m ? (m[1] as ModuleCompression) : undefined;
}

/** kvm-amd.ko.xz -> kvm-amd.ko: the name a module has in the initramfs. */
export function decompressedName(path: string): string {
  return path.replace(/\.ko\.(xz|zst|gz)$/, '.ko');
}

/** The tools that decompress each format (Node 20's zlib has gzip, not xz or zstd). */
export const DECOMPRESSORS: Record<Exclude<ModuleCompression, 'gz'>, { command: string; args: string[]; aptPackage: string }> = {
  xz: { command: 'xz', args: ['-dc'], aptPackage: 'xz-utils' },
  zst: { command: 'zstd', args: ['-dcq'], aptPackage: 'zstd' },
};

/** A module's ELF bytes, decompressed when its name says it is compressed. */
export function readModule(path: string): Buffer {
  const kind = moduleCompression(path);
  if (kind === undefined) return readFileSync(path);
  if (kind === 'gz') return gunzipSync(readFileSync(path));
  const tool = DECOMPRESSORS[kind];
  try {
    return execFileSync(tool.command, [...tool.args, path], { maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new UserError('LAB_NO_TOOL', `${path} is ${kind}-compressed and there is no ${tool.command} to decompress it`, `apt-get install ${tool.aptPackage}`);
    const why = err.stderr?.toString().trim().split('\n').pop() ?? String(err.message).split('\n')[0];
    throw new UserError('LAB_BAD_KERNEL', `${tool.command} could not decompress ${path}: ${why}`, 'the kernel package may be damaged: remove it from ~/.cache/exitscope/kernels and retry');
  }
}
