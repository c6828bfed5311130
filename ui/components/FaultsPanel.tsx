import { Box, Text } from 'ink';
import type { Theme } from '../theme.js';
import { bar, compact, fit } from '../format.js';
import type { DashboardView } from '../view-model.js';

export function FaultsPanel({ f, theme, width, maxRows = 5 }: { f: DashboardView['faults']; theme: Theme; width: number; maxRows?: number }) {
  const max = Math.max(0, ...f.byKind.map((k) => k.count));
  const barWidth = Math.max(4, Math.min(30, width - 28));
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate-end">
        <Text bold={theme.emphasis} color={theme.accent}>PAGE FAULTS</Text> {compact(f.rate)}/s · {compact(f.count)} in window ·{' '}
        <Text color={f.mmio > 0 ? theme.warn : undefined}>MMIO {compact(f.mmio)}</Text>
      </Text>
      {f.count === 0 ? <Text color={theme.muted}>no page faults in this window</Text> : null}
      {f.byKind.slice(0, maxRows).map((k) => (
        <Text key={k.kind} wrap="truncate-end">
          {fit(k.kind, 19)} {fit(compact(k.count), 6, 'right')} <Text color={theme.bar}>{bar(k.count, max, barWidth)}</Text>
        </Text>
      ))}
      {f.topRegions.length > 0 ? (
        <Text wrap="truncate-end" color={theme.muted}>
          top 2 MiB regions: {f.topRegions.map((r) => `${r.gpa} ${compact(r.count)}`).join(' · ')}
        </Text>
      ) : null}
    </Box>
  );
}
