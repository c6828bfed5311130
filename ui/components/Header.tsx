import { Box, Text } from 'ink';
import type { Theme } from '../theme.js';
import { compact, uptime } from '../format.js';
import type { DashboardView } from '../view-model.js';

export function Header({ h, theme, width }: { h: DashboardView['header']; theme: Theme; width: number }) {
  const state = h.paused ? { label: '❚❚ PAUSED', color: theme.warn } : h.source === 'replay' ? { label: h.ended ? '■ REPLAY (end)' : '▶ REPLAY', color: theme.accent } : h.ended ? { label: '■ STOPPED', color: theme.danger } : { label: '● LIVE', color: theme.good };
  // the window asked for, and what it covers when that differs (the start; an interval longer than it)
  const covered = h.windowCoveredMs / 1000;
  const window = h.windowCoveredMs > 0 && covered < h.windowSeconds ? `${h.windowSeconds}s (${covered.toFixed(0)}s so far)` : covered > h.windowSeconds * 1.2 ? `${h.windowSeconds}s (intervals: ${covered.toFixed(0)}s)` : `${h.windowSeconds}s`;
  return (
    <Box flexDirection="column" width={width}>
      <Box justifyContent="space-between">
        <Text wrap="truncate-end">
          <Text bold={theme.emphasis} color={theme.accent}>exitscope</Text> {h.host} · kernel {h.kernel} · bpftrace {h.bpftrace} · up {uptime(h.uptimeMs)}
        </Text>
        <Box flexShrink={0}>
          <Text bold={theme.emphasis} color={state.color}> {state.label}</Text>
        </Box>
      </Box>
      <Text wrap="truncate-end">
        exits/s <Text bold={theme.emphasis}>{compact(h.exitsPerSecond)}</Text>
        {'  '}
        {h.lost > 0 ? (
          <Text bold={theme.emphasis} color={theme.danger} inverse={theme.emphasis}>
            {' '}LOST {h.lost} EVENTS: counts incomplete{' '}
          </Text>
        ) : (
          <Text color={theme.muted}>lost 0</Text>
        )}
        {h.gaps > 0 ? <Text color={theme.danger}>  {h.gaps} gap{h.gaps > 1 ? 's' : ''}</Text> : null}
        {'  '}window {window}  VM {h.vmLabel}
        {'  '}
        <Text color={theme.muted}>collector {h.self ? `${h.self.cpuPercent.toFixed(1)}% CPU ${h.self.rssMiB.toFixed(0)} MiB` : '-'}</Text>
      </Text>
      <Text wrap="truncate-end" color={theme.muted}>
        {h.scope !== undefined ? <Text color={theme.accent}>scoped to cgroup {h.scope} · </Text> : null}
        probes: {h.attached.length} attached
        {h.notAttached.length > 0 ? `; not attached: ${h.notAttached.map((p) => `${p.probe} (${p.detail})`).join(', ')}` : ''}
      </Text>
    </Box>
  );
}
