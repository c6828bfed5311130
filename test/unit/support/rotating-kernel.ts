/**
 * A model of what src/probes/program.ts makes the kernel and bpftrace do with copies of a map:
 * probes count into the copy of the current epoch at once (BPF is synchronous); the interval probe
 * queues its markers, print()s and clear()s, which bpftrace's user space does later, in queue
 * order, reading and clearing the maps as they are THEN (that lateness is the whole difficulty).
 * The epoch moves on only into a copy whose clear is done (the @pendingN flag), unless `guard` is
 * off, which shows what the flag prevents, and only every `every` intervals (program.ts
 * rotateEvery: 4 at -i 250). Output: bpftrace -f json lines, as the parser reads them.
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
  /** Intervals since the epoch last moved (@tick). */
  private sinceMove = 0;
  /** Per copy: the time of the interval whose clear of it is queued and not done, else 0 (@pendingN). */
  private readonly pending: number[];
  private readonly queue: Work[] = [];
  private t = 0;
  /** Times the epoch waited for a clear. */
  waits = 0;
  /** The most keys one copy held when printed. */
  largestPrinted = 0;

  constructor(
    readonly copies: number,
    private readonly guard = true,
    /** END's marker says which copies' clears were not done (program.ts); false: the marker before it did. */
    private readonly endFlags = true,
    /** Intervals between two moves of the epoch (program.ts rotateEvery). */
    readonly every = 1,
  ) {
    this.maps = Array.from({ length: copies }, () => new Map());
    this.pending = Array.from({ length: copies }, () => 0);
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
      this.pending[prev] = this.t;
      this.queue.push({ kind: 'clear', copy: prev }, { kind: 'unpend', copy: prev });
    } else {
      this.line(`${MARK.begin} ${this.t} ${e} -`);
      this.queue.push({ kind: 'print', copy: e });
      this.line(MARK.end);
    }
    const since = this.sinceMove + 1;
    if (since >= this.every && (!this.guard || !this.pending[next])) {
      this.epoch = next;
      this.closing = true;
      this.sinceMove = 0;
    } else {
      this.closing = false;
      this.sinceMove = since;
      if (since >= this.every) this.waits++;
    }
  }

  /** END: every copy printed, then all cleared. The flags are the kernel's @pendingN, read as END runs. */
  end(): void {
    this.line(`${MARK.final} ${this.t + 1}${this.endFlags ? this.pending.map((p) => ` ${p}`).join('') : ''}`);
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
      else this.pending[w.copy] = 0;
    }
    return out;
  }

  /** Intervals whose items are queued, at least in part. */
  get queuedIntervals(): number {
    return this.queue.filter((w) => w.kind === 'line' && w.line.includes(MARK.begin)).length;
  }

  /**
   * SIGINT while user space reads its queue, as bpftrace does it. It reads its buffer in batches
   * (all that is there when it wakes): here the first `batch` intervals' items. Of those the first
   * `done` are done and the rest thrown away (perf_event_printer returns early once the signal has
   * come), and the probes are detached. What was not read yet is left over: the drain after END
   * reads it before END's output or after (another CPU's buffer: `endFirst`). A batch ends between
   * intervals: one interval's items are written by one run of its probe, in microseconds (or, with
   * `items` and nothing dropped, anywhere). Returns every line user space printed.
   */
  interrupt(o: { batch: number; done: number; endFirst: boolean } | { items: number; endFirst: boolean }): string[] {
    let batchEnd = 0;
    if ('items' in o) batchEnd = Math.min(o.items, this.queue.length);
    else {
      for (let seen = 0; batchEnd < this.queue.length; batchEnd++) {
        const w = this.queue[batchEnd] as Work;
        if (w.kind === 'line' && w.line.includes(MARK.begin) && seen++ === o.batch) break;
      }
    }
    // `items`: SIGINT came while bpftrace waited, after it read that many items (a split anywhere,
    // even inside an interval's events if it read while the probe was writing them): none dropped
    o = 'items' in o ? { batch: 0, done: batchEnd, endFirst: o.endFirst } : o;
    if (o.done > batchEnd) throw new RangeError(`done ${o.done} is past the batch (${batchEnd} items)`);
    const out = this.userSpace(o.done);
    this.queue.splice(0, batchEnd - o.done);
    const leftover = this.queue.splice(0);
    this.end();
    const fromEnd = this.queue.splice(0);
    this.queue.push(...(o.endFirst ? [...fromEnd, ...leftover] : [...leftover, ...fromEnd]));
    return [...out, ...this.userSpace()];
  }

  /** Items queued and not done yet (how far user space lags). */
  get queued(): number {
    return this.queue.length;
  }

  private line(text: string): void {
    this.queue.push({ kind: 'line', line: JSON.stringify({ type: 'printf', data: `${text}\n` }) });
  }
}
