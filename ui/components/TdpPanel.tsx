import { Box, Text } from 'ink';
import type { Theme } from '../theme.js';
import { bar, compact, duration, fit } from '../format.js';
import type { DashboardView } from '../view-model.js';

export function TdpPanel({ t, theme, width, maxRows = 8 }: { t: DashboardView['tdp']; theme: Theme; width: number; maxRows?: number }) {
  const max = Math.max(0, ...t.buckets.map(([, n]) => n));
  const barWidth = Math.max(4, Math.min(30, width - 18));
  // at most maxRows rows: the buckets holding the most, in order of time
  const shown = [...t.buckets].sort((a, b) => b[1] - a[1]).slice(0, maxRows).sort((a, b) => a[0] - b[0]);
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate-end">
        <Text bold={theme.emphasis} color={theme.accent}>TDP HANDLER</Text> {t.handler ?? 'not attached'} · {compact(t.rate)}/s
        {t.latency ? ` · p50<=${duration(t.latency.p50Ns)} p99<=${duration(t.latency.p99Ns)}` : ''}
      </Text>
      {t.buckets.length === 0 ? <Text color={theme.muted}>{t.handler ? 'no TDP faults in this window' : 'no TDP handler probe (see exitscope doctor)'}</Text> : null}
      {shown.map(([low, n]) => (
        <Text key={low} wrap="truncate-end">
          {fit(`>=${duration(low)}`, 8, 'right')} {fit(compact(n), 6, 'right')} <Text color={theme.bar}>{bar(n, max, barWidth)}</Text>
        </Text>
      ))}
      {t.shadow.length > 0 ? (
        <Text wrap="truncate-end" color={theme.warn}>
          shadow paging: {t.shadow.map((s) => `${s.handler} ${compact(s.count)}`).join(', ')}
        </Text>
      ) : null}
      {t.shadowPaging ? (
        <Text wrap="wrap" color={theme.danger} bold={theme.emphasis}>
          NPT/EPT is off: guest page faults are intercepted and KVM shadows the guest page tables (the seed article's slowdown).
        </Text>
      ) : null}
    </Box>
  );
}
