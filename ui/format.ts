/** Short numbers for narrow columns. Pure. */
export function compact(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  if (a >= 100 || Number.isInteger(n)) return `${Math.round(n)}`;
  return n.toFixed(1);
}

export function duration(ns: number | undefined): string {
  if (ns === undefined) return '-';
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(ns >= 1e10 ? 0 : 1)}s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(ns >= 1e7 ? 0 : 1)}ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(ns >= 1e4 ? 0 : 1)}us`;
  return `${Math.round(ns)}ns`;
}

export function percent(x: number): string {
  const v = x * 100;
  return v > 0 && v < 0.1 ? '<0.1%' : `${v.toFixed(v >= 99.95 || v === 0 ? 0 : 1)}%`;
}

export function uptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** Fits text to exactly `width` characters: cut with an ellipsis, or padded. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  const t = text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
  return align === 'left' ? t.padEnd(width) : t.padStart(width);
}

const SPARKS = '▁▂▃▄▅▆▇█';

/**
 * A sparkline of `values` in exactly `width` cells (the newest at the right); all zero is blank.
 * More values than cells are averaged in groups, so the whole history is shown, not its tail.
 */
export function sparkline(values: readonly number[], width: number): string {
  const per = Math.max(1, Math.ceil(values.length / Math.max(1, width)));
  const v: number[] = [];
  // groups aligned on the newest value, so the rightmost cell is always the latest
  for (let end = values.length; end > 0 && v.length < width; end -= per) {
    const group = values.slice(Math.max(0, end - per), end);
    v.unshift(group.reduce((a, b) => a + b, 0) / group.length);
  }
  const max = Math.max(0, ...v);
  const cells = v.map((x) => (max <= 0 || x <= 0 ? ' ' : SPARKS[Math.min(SPARKS.length - 1, Math.floor((x / max) * (SPARKS.length - 1) + 0.5))] as string));
  return cells.join('').padStart(width, ' ');
}

/** A horizontal bar of `value / max` in `width` cells, with eighth-cell resolution. */
export function bar(value: number, max: number, width: number): string {
  if (max <= 0 || value <= 0 || width <= 0) return '';
  const eighths = Math.max(1, Math.round((value / max) * width * 8));
  const full = Math.floor(eighths / 8);
  const part = eighths % 8;
  return '█'.repeat(full) + (part ? ('▏▎▍▌▋▊▉'[part - 1] as string) : '');
}
