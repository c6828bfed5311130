/**
 * A model of what src/probes/program.ts makes the kernel and bpftrace do with copies of a map:
 * probes count into the copy of the current epoch at once (BPF is synchronous); the interval probe
 * queues its markers, print()s and clear()s, which bpftrace's user space does later, in queue
 * order, reading and clearing the maps as they are THEN (that lateness is the whole difficulty).
 * The epoch moves on only into a copy whose clear is done (the @pendingN flag), unless `guard` is
 * off, which shows what the flag prevents. Output: bpftrace -f json lines, as the parser reads them.
 * Only @exits is modelled: every counting map follows the same rules.
 */
import { MARK } from '../../../src/probes/program.js';

type Work = { kind: 'line'; line: string } | { kind: 'print'; copy: number } | { kind: 'clear'; copy: number } | { kind: 'unpend'; copy: number };

export class RotatingKernel {
  readonly maps: Map<string, number>[];
  /** Every event ever counted, by key: what the deltas must add up to. */
  readonly truth = new Map<string, number>();
  private epoch = 0;
  private closing = false;
  private readonly pending: boolean[];
  private readonly queue: Work[] = [];
  private t = 0;
  /** Times the epoch waited for a clear. */
  waits = 0;
  /** The most keys one copy held when printed. */
  largestPrinted = 0;

  constructor(
    readonly copies: number,
    private readonly guard = true,
  ) {
    this.maps = Array.from({ length: copies }, () => new Map());
    this.pending = Array.from({ length: copies }, () => false);
  }

  /** A probe counts one event (pid, tid, isa 2, reason). */
  event(pid: number, tid: number, reason: number, n = 1): void {
    const key = `${pid},${tid},2,${reason}`;
    const m = this.maps[this.epoch] as Map<string, number>;
    m.set(key, (m.get(key) ?? 0) + n);
    this.truth.set(key, (this.truth.get(key) ?? 0) + n);
  }

  /** The interval probe: what it queues, then the epoch's move (program.ts's rotation()). */
  tick(): void {
    this.t += 1e9;
    const e = this.epoch;
    const prev = (e + this.copies - 1) % this.copies;
    const next = (e + 1) % this.copies;
    if (this.closing) {
      this.line(`${MARK.begin} ${this.t} ${e} ${prev}`);
      this.queue.push({ kind: 'print', copy: e }, { kind: 'print', copy: prev });
      this.line(MARK.end);
      this.pending[prev] = true;
      this.queue.push({ kind: 'clear', copy: prev }, { kind: 'unpend', copy: prev });
    } else {
      this.line(`${MARK.begin} ${this.t} ${e} -`);
      this.queue.push({ kind: 'print', copy: e });
      this.line(MARK.end);
    }
    if (!this.guard || !this.pending[next]) {
      this.epoch = next;
      this.closing = true;
    } else {
      this.closing = false;
      this.waits++;
    }
  }

  /** END: every copy printed, then all cleared. */
  end(): void {
    this.line(`${MARK.final} ${this.t + 1}`);
    for (let c = 0; c < this.copies; c++) this.queue.push({ kind: 'print', copy: c });
    this.line(MARK.end);
    for (let c = 0; c < this.copies; c++) this.queue.push({ kind: 'clear', copy: c });
  }

  /** bpftrace's user space does what is queued (all of it, or the first `n` items): the output lines. */
  userSpace(n = Number.POSITIVE_INFINITY): string[] {
    const out: string[] = [];
    for (let i = 0; i < n && this.queue.length; i++) {
      const w = this.queue.shift() as Work;
      if (w.kind === 'line') out.push(w.line);
      else if (w.kind === 'print') {
        const m = this.maps[w.copy] as Map<string, number>;
        this.largestPrinted = Math.max(this.largestPrinted, m.size);
        // bpftrace prints nothing for an empty map
        if (m.size) out.push(JSON.stringify({ type: 'map', data: { [`@exits${w.copy}`]: Object.fromEntries(m) } }));
      } else if (w.kind === 'clear') (this.maps[w.copy] as Map<string, number>).clear();
      else this.pending[w.copy] = false;
    }
    return out;
  }

  /** Items queued and not done yet (how far user space lags). */
  get queued(): number {
    return this.queue.length;
  }

  private line(text: string): void {
    this.queue.push({ kind: 'line', line: JSON.stringify({ type: 'printf', data: `${text}\n` }) });
  }
}
