/**
 * The guest root of the Intel lab: the host's own node, bpftrace and perf, each with the shared
 * libraries `ldd` says it loads, at the same paths as on the host (Bochs shares no host files, so
 * they travel on the boot ISO). Parsing is pure; `lddClosure` runs ldd.
 */
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';

/** One file of the root: where it goes in the guest, and the host file with its content. */
export interface RootFile {
  /** Absolute path in the guest. */
  target: string;
  /** Host file to copy (symlinks resolved: the ISO holds the content at the name the loader asks for). */
  source: string;
}

/**
 * The libraries in `ldd` output: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and the
 * loader "/lib64/ld-linux-x86-64.so.2 (0x...)". The vDSO (no file) and "not found" are skipped;
 * a static or non-ELF file has none.
 */
export function parseLdd(text: string): { libraries: string[]; missing: string[] } {
  const libraries: string[] = [];
  const missing: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const arrow = /^(\S+) => (\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (arrow?.[2]?.startsWith('/')) libraries.push(arrow[2]);
    else if (/^(\S+) => not found$/.test(line)) missing.push(line.split(' ')[0] as string);
    else {
      const loader = /^(\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
      if (loader?.[1]) libraries.push(loader[1]);
    }
  }
  return { libraries, missing };
}

/** The files one program needs: itself and its libraries (ldd lists the whole closure). */
export function lddClosure(binary: string, ldd: (bin: string) => string = runLdd, realpath: (p: string) => string = realpathSync): RootFile[] {
  const { libraries, missing } = parseLdd(ldd(binary));
  if (missing.length > 0) throw new Error(`${binary} needs libraries that are not installed: ${missing.join(', ')}`);
  return [binary, ...libraries].map((target) => ({ target, source: realpath(target) }));
}

function runLdd(binary: string): string {
  try {
    return execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    // "not a dynamic executable" (a static binary or a script): the file alone
    return (e as { stdout?: string }).stdout ?? '';
  }
}

/** Files of several programs, each target once (the first source wins: they are the same file). */
export function mergeRootFiles(lists: RootFile[][]): RootFile[] {
  const byTarget = new Map<string, RootFile>();
  for (const f of lists.flat()) if (!byTarget.has(f.target)) byTarget.set(f.target, f);
  return [...byTarget.values()].sort((a, b) => a.target.localeCompare(b.target));
}

/** Directories every root needs: mount points, and where busybox puts its applets. */
export const ROOT_DIRS = ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/local/bin', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'etc', 'var/tmp'] as const;

/** A root user for programs that look themselves up. */
export const ROOT_ETC: { target: string; text: string }[] = [
  { target: '/etc/passwd', text: 'root:x:0:0:root:/root:/bin/sh\n' },
  { target: '/etc/group', text: 'root:x:0:\n' },
];
