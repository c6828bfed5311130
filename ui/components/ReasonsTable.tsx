import { Box, Text } from 'ink';
import type { Theme } from '../theme.js';
import { compact, duration, fit, percent, sparkline } from '../format.js';
import type { DashboardView, SortKey } from '../view-model.js';

interface Column {
  title: string;
  width: number;
  align: 'left' | 'right';
  sort?: SortKey;
}

/** Columns for the terminal's width: 80 columns drop the ISA and p50 and shorten the sparkline. */
export function columnsFor(width: number): { cols: Column[]; spark: number } {
  const wide = width >= 100;
  const spark = wide ? 20 : 12;
  const fixed: Column[] = [
    ...(wide ? [{ title: 'ISA', width: 3, align: 'left' as const }] : []),
    { title: 'COUNT', width: 8, align: 'right', sort: 'count' },
    { title: 'RATE/s', width: 8, align: 'right' },
    { title: 'SHARE', width: 6, align: 'right' },
    { title: 'LAST 60s', width: spark, align: 'left' },
    ...(wide ? [{ title: 'P50<=', width: 7, align: 'right' as const, sort: 'p50' as const }] : []),
    { title: 'P99<=', width: 7, align: 'right', sort: 'p99' },
    { title: 'MAX<=', width: 7, align: 'right', sort: 'max' },
  ];
  const used = fixed.reduce((a, c) => a + c.width + 1, 0);
  const name = Math.max(10, Math.min(28, width - used - 1));
  return { cols: [{ title: 'EXIT REASON', width: name, align: 'left', sort: 'name' }, ...fixed], spark };
}

export function ReasonsTable({ r, state, theme, width, maxRows }: { r: DashboardView['reasons']; state: DashboardView['state']; theme: Theme; width: number; maxRows: number }) {
  const { cols, spark } = columnsFor(width);
  const head = cols.map((c) => fit(c.sort === r.sort ? `${c.title}${r.sortDesc ? '▼' : '▲'}` : c.title, c.width, c.align)).join(' ');
  const rows = r.rows.slice(0, Math.max(1, maxRows));
  const more = r.rows.length - rows.length;
  return (
    <Box flexDirection="column" width={width}>
      <Text bold={theme.emphasis} color={theme.accent}>
        {head}
      </Text>
      {state === 'waiting' ? <Text color={theme.muted}>waiting for the first exits...</Text> : null}
      {state !== 'waiting' && r.rows.length === 0 ? (
        <Text color={theme.muted}>{r.filter ? `no exit reason matches "${r.filter}"` : state === 'no-vm' ? 'no VM is running' : 'no exits in this window'}</Text>
      ) : null}
      {rows.map((row) => {
        const cells: Record<string, string> = {
          'EXIT REASON': row.name,
          ISA: row.isaName,
          COUNT: compact(row.count),
          'RATE/s': compact(row.rate),
          SHARE: percent(row.share),
          'LAST 60s': sparkline(row.spark, spark),
          'P50<=': duration(row.latency?.p50Ns),
          'P99<=': duration(row.latency?.p99Ns),
          'MAX<=': duration(row.latency?.maxNs),
        };
        return (
          <Text key={row.key} wrap="truncate-end">
            {cols.map((c, i) => (
              <Text key={c.title} color={c.title === 'LAST 60s' ? theme.bar : c.title === 'EXIT REASON' && !row.known ? theme.warn : undefined}>
                {i > 0 ? ' ' : ''}
                {fit(cells[c.title] ?? '', c.width, c.align)}
              </Text>
            ))}
          </Text>
        );
      })}
      <Text color={theme.muted}>
        {more > 0 ? `+${more} more reasons  ` : ''}
        {r.hidden > 0 ? `${r.hidden} hidden by filter "${r.filter}"  ` : ''}
        {r.rows.length > 0 ? `total ${compact(r.total)} exits` : ''}
      </Text>
    </Box>
  );
}
