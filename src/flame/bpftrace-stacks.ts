/**
 * Reads the sampling program's output: bpftrace's `-f json` print of
 * @stacks[state, pid, kstack, (ustack,) comm], one key per distinct sample.
 * bpftrace writes a tuple key as its fields joined by ',', and each stack (perf
 * mode) as one indented "address symbol+offset (module)" line per frame,
 * innermost first, so the key is
 * split into fields by its lines: indented lines are frames, a line starting
 * with ',' ends a stack field, and what follows the last ',' is the thread name
 * (last on purpose: it may hold commas).
 */
export interface RawSample {
  state: bigint;
  pid: number;
  /** Innermost first, offsets removed. */
  kernel: string[];
  user: string[];
  comm: string;
  count: number;
}

export const UNKNOWN = '[unknown]';

/** "kvm_mmu_page_fault+130" -> "kvm_mmu_page_fault"; "0x7f12ab" -> "[unknown]". */
export function symbolOf(frame: string): string {
  // perf mode ends a frame with its module: " (/usr/lib/.../libc.so.6)" or " ([unknown])"
  const f = frame.trim().replace(/\s+\((\/|\[)[^()]*\)$/, '');
  if (/^(0x)?[0-9a-f]{6,16}$/i.test(f) || f === '') return UNKNOWN;
  return f.replace(/\+\d+$/, '').replace(/\+0x[0-9a-f]+$/i, '');
}

/** One frame line: perf mode ("\tffffffffc03f045b kvm_vcpu_ioctl+606", "\t7f2b ioctl+59 (/lib/libc.so.6)") or plain ("    ioctl+59"). */
export function frameOf(line: string): { addr?: string; symbol: string } {
  const perf = /^\s+([0-9a-f]{4,16}) (.*)$/.exec(line);
  if (perf) return { addr: perf[1] as string, symbol: symbolOf(perf[2] as string) };
  return { symbol: symbolOf(line) };
}

type ReadSample = Omit<RawSample, 'kernel' | 'user' | 'count'> & { kernel: ReadFrame[]; user: ReadFrame[] };

export function parseStackKey(key: string, userStacks: boolean): ReadSample | undefined {
  const head = /^(\d+),\s*(\d+),/.exec(key);
  if (!head) return undefined;
  const fields: { addr?: string; symbol: string }[][] = userStacks ? [[], []] : [[]];
  let field = 0;
  let comm = '';
  const rest = key.slice(head[0].length);
  for (const line of rest.split('\n')) {
    if (/^\s+\S/.test(line) && field < fields.length) {
      fields[field]?.push(frameOf(line));
      continue;
    }
    let l = line;
    while (field < fields.length && /^\s*,/.test(l)) {
      l = l.replace(/^\s*,/, '');
      field++;
    }
    if (field >= fields.length) comm += (comm ? '\n' : '') + l.replace(/^ /, '');
  }
  return { state: BigInt(head[1] as string), pid: Number(head[2]), kernel: fields[0] ?? [], user: userStacks ? (fields[1] ?? []) : [], comm: comm.trim() };
}

/** A frame as read, before unknown addresses are filled in. */
export interface ReadFrame {
  addr?: string;
  symbol: string;
}

/** Samples from the JSON lines of one capture; non-map lines are ignored here. */
export function parseStacksOutput(lines: readonly string[], userStacks: boolean, mapName = '@stacks'): { samples: RawSample[]; unparsed: number } {
  const read: (ReadSample & { count: number })[] = [];
  let unparsed = 0;
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    let rec: { type?: string; data?: Record<string, unknown> };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (rec.type !== 'map' || !rec.data || typeof rec.data[mapName] !== 'object') continue;
    for (const [key, value] of Object.entries(rec.data[mapName] as Record<string, unknown>)) {
      const parsed = parseStackKey(key, userStacks);
      if (!parsed || typeof value !== 'number') {
        unparsed++;
        continue;
      }
      read.push({ ...parsed, count: value });
    }
  }
  // bpftrace sometimes fails to symbolise a user address it resolves in another sample
  // (same pid): use that name rather than splitting the graph on [unknown]
  const known = new Map<string, string>();
  for (const s of read) for (const f of [...s.kernel, ...s.user]) if (f.addr && f.symbol !== UNKNOWN) known.set(`${s.pid}:${f.addr}`, f.symbol);
  const name = (pid: number, f: ReadFrame): string => (f.symbol === UNKNOWN && f.addr ? (known.get(`${pid}:${f.addr}`) ?? UNKNOWN) : f.symbol);
  const samples = read.map((s) => ({ ...s, kernel: s.kernel.map((f) => name(s.pid, f)), user: s.user.map((f) => name(s.pid, f)) }));
  return { samples, unparsed };
}
