// bpftrace's default (text) output for the benchmark's maps, and a minimal reader of it:
// only for bench/parser.mjs's comparison (exitscope itself reads -f json).
const fmtKey = (k) => k.split(',').join(', ');
const histLines = (buckets) => buckets.map((b) => `[${b.min}, ${b.max + 1})${String(b.count).padStart(12)} |${'@'.repeat(Math.min(52, b.count % 53)).padEnd(52)}|`);

export function textLines(d, final) {
  const out = [`exitscope:${final ? 'final' : 'begin'} ${d.tNs}`];
  for (const [name, m] of [['@exits', d.exits], ['@faults', d.faults], ['@fault_regions_2m', d.regions], ['@handler_calls', d.handlerCalls]])
    for (const [k, v] of Object.entries(m)) out.push(`${name}[${fmtKey(k)}]: ${v}`);
  for (const [name, m] of [['@exit_ns', d.exitNs], ['@handler_ns', d.handlerNs]])
    for (const [k, b] of Object.entries(m)) out.push(`${name}[${fmtKey(k)}]: `, ...histLines(b), '');
  out.push('exitscope:end');
  return out;
}

const COUNT = /^(@\w+)\[([^\]]*)\]: (\d+)$/;
const HIST_HEAD = /^(@\w+)\[([^\]]*)\]: $/;
const BUCKET = /^\[(\d+), (\d+)\)\s+(\d+) \|/;

/** Reads frames out of text chunks; returns how many frames were complete. */
export function parseText(chunks) {
  let rest = '';
  let frames = 0;
  let frame;
  let hist;
  const line = (l) => {
    if (l.startsWith('exitscope:')) {
      if (l.startsWith('exitscope:end')) {
        if (frame) frames++;
        frame = undefined;
      } else frame = { counts: new Map(), hists: new Map() };
      hist = undefined;
      return;
    }
    if (!frame) return;
    let m = COUNT.exec(l);
    if (m) {
      frame.counts.set(`${m[1]}[${m[2].replaceAll(' ', '')}]`, Number(m[3]));
      return;
    }
    m = HIST_HEAD.exec(l);
    if (m) {
      hist = [];
      frame.hists.set(`${m[1]}[${m[2].replaceAll(' ', '')}]`, hist);
      return;
    }
    m = BUCKET.exec(l);
    if (m && hist) hist.push({ low: Number(m[1]), count: Number(m[3]) });
  };
  for (const c of chunks) {
    const data = rest + c;
    let start = 0;
    for (let nl = data.indexOf('\n'); nl >= 0; nl = data.indexOf('\n', start)) {
      line(data.slice(start, nl));
      start = nl + 1;
    }
    rest = data.slice(start);
  }
  return frames;
}
