/**
 * The sparklines' data: exits/s of each exit reason in each recent interval, for all VMs or one.
 *
 * The history is the model's ring of snapshots (60 s: 61 of them, packed: src/model/packed-snapshot.ts),
 * each holding every VM x vCPU x reason entry of its interval (4,800 at 50 VMs x 8 vCPUs x 12
 * reasons). Summing the ring at
 * every frame walked ~300,000 entries a second for a dozen short series: most of the dashboard's
 * own CPU and garbage at that size. A snapshot never changes once made (the model relies on it
 * too), so its per-reason rates are summed once, when first asked for, and kept beside it
 * (a WeakMap: they go when the snapshot leaves the ring). A frame then reads ~12 numbers per
 * interval. The sums are made in the entries' order, so every rate is the same double as the sum
 * from scratch (test/unit/reason-rates.test.ts checks that on random streams).
 */
import type { RingSnapshot } from '../src/model/aggregate.js';
import { decodeExitReason } from '../src/model/exit-reasons.js';

/** Per reason key ("isa,reason" decoded), exits/s in one interval. */
export type RatesByReason = ReadonlyMap<string, number>;

/** Per snapshot: the rates of all VMs, and (only once a VM has been selected) those of each VM. */
const allCache = new WeakMap<RingSnapshot, Map<string, number>>();
const byPidCache = new WeakMap<RingSnapshot, Map<number, Map<string, number>>>();

/** The reason key of a raw (isa, reason): decoded once per pair (the history holds a few). */
const keyOf = new Map<number, Map<number, string>>();
export function reasonKeyOf(isa: number, raw: number): string {
  let ofIsa = keyOf.get(isa);
  if (!ofIsa) keyOf.set(isa, (ofIsa = new Map()));
  let key = ofIsa.get(raw);
  if (key === undefined) {
    key = `${isa},${decodeExitReason(isa, raw).reason}`;
    // raw codes are the kernel's few; a stream of made-up ones must not grow this without bound
    if (ofIsa.size < 4096) ofIsa.set(raw, key);
  }
  return key;
}

/** Sums each entry's rate into its reason's (and VM's): in the entries' order, as from scratch. */
function sumRates(s: RingSnapshot, into: (pid: number, key: string, rate: number) => void): void {
  s.forEachExit((count, pid, _tid, isa, reason) => into(pid, reasonKeyOf(isa, reason), s.ms > 0 ? (count * 1000) / s.ms : 0));
}

/** exits/s of each reason in one interval: of all VMs, or of one VM process. */
export function intervalRates(s: RingSnapshot, pid?: number): RatesByReason {
  if (pid === undefined) {
    let all = allCache.get(s);
    if (!all) {
      const sums = new Map<string, number>();
      sumRates(s, (_pid, key, rate) => void sums.set(key, (sums.get(key) ?? 0) + rate));
      allCache.set(s, (all = sums));
    }
    return all;
  }
  let byPid = byPidCache.get(s);
  if (!byPid) {
    const sums = new Map<number, Map<string, number>>();
    sumRates(s, (p, key, rate) => {
      let mine = sums.get(p);
      if (!mine) sums.set(p, (mine = new Map()));
      mine.set(key, (mine.get(key) ?? 0) + rate);
    });
    byPidCache.set(s, (byPid = sums));
  }
  return byPid.get(pid) ?? EMPTY;
}
const EMPTY: RatesByReason = new Map();

/** Per reason, its rate in each interval of `history` (oldest first; 0 where it did not occur). */
export function reasonSeries(history: readonly RingSnapshot[], pid?: number): Map<string, number[]> {
  const series = new Map<string, number[]>();
  history.forEach((s, i) => {
    for (const [key, rate] of intervalRates(s, pid)) {
      let v = series.get(key);
      if (!v) series.set(key, (v = new Array<number>(history.length).fill(0)));
      v[i] = rate;
    }
  });
  return series;
}
