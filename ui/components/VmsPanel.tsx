import { Box, Text } from 'ink';
import type { Theme } from '../theme.js';
import { bar, compact, fit } from '../format.js';
import type { DashboardView } from '../view-model.js';

export function VmsPanel({ vms, vcpus, theme, width, maxRows = 6 }: { vms: DashboardView['vms']; vcpus: DashboardView['vcpus']; theme: Theme; width: number; maxRows?: number }) {
  const half = Math.floor((width - 2) / 2);
  const maxVcpu = Math.max(0, ...vcpus.map((c) => c.rate));
  return (
    <Box width={width}>
      <Box flexDirection="column" width={half} marginRight={2}>
        <Text bold={theme.emphasis} color={theme.accent}>VMs (v to select)</Text>
        {vms.length === 0 ? <Text color={theme.muted}>no VM is running</Text> : null}
        {vms.slice(0, maxRows).map((v) => (
          <Text key={v.pid} wrap="truncate-end" color={v.selected ? theme.selected : v.gone ? theme.muted : undefined} bold={v.selected && theme.emphasis}>
            {v.selected ? '▶ ' : '  '}
            {fit(`${v.name} (${v.pid})${v.gone ? ' gone' : ''}`, Math.max(8, half - 14))} {fit(compact(v.rate), 8, 'right')}/s
          </Text>
        ))}
        {vms.length > maxRows ? <Text color={theme.muted}>+{vms.length - maxRows} more</Text> : null}
      </Box>
      <Box flexDirection="column" width={half}>
        <Text bold={theme.emphasis} color={theme.accent}>vCPUs</Text>
        {vcpus.length === 0 ? <Text color={theme.muted}>no vCPU exits in this window</Text> : null}
        {vcpus.slice(0, maxRows).map((c) => (
          <Text key={c.key} wrap="truncate-end">
            {fit(c.label, Math.max(8, half - 24))} {fit(compact(c.rate), 7, 'right')}/s <Text color={theme.bar}>{bar(c.rate, maxVcpu, 8)}</Text>
          </Text>
        ))}
      </Box>
    </Box>
  );
}
