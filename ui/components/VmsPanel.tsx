import { Box, Text } from 'ink';
import type { Theme } from '../theme.js';
import { bar, compact, fit } from '../format.js';
import type { DashboardView } from '../view-model.js';

export function VmsPanel({ vms, vcpus, theme, width }: { vms: DashboardView['vms']; vcpus: DashboardView['vcpus']; theme: Theme; width: number }) {
  const half = Math.floor((width - 2) / 2);
  const maxVcpu = Math.max(0, ...vcpus.map((c) => c.rate));
  return (
    <Box width={width}>
      <Box flexDirection="column" width={half} marginRight={2}>
        <Text bold={theme.emphasis} color={theme.accent}>VMs (v to select)</Text>
        {vms.length === 0 ? <Text color={theme.muted}>no VM is running</Text> : null}
        {vms.slice(0, 6).map((v) => (
          <Text key={v.pid} wrap="truncate-end" color={v.selected ? theme.selected : v.gone ? theme.muted : undefined} bold={v.selected && theme.emphasis}>
            {v.selected ? '▶ ' : '  '}
            {fit(`${v.name} (${v.pid})${v.gone ? ' gone' : ''}`, Math.max(8, half - 14))} {fit(compact(v.rate), 8, 'right')}/s
          </Text>
        ))}
        {vms.length > 6 ? <Text color={theme.muted}>+{vms.length - 6} more</Text> : null}
      </Box>
      <Box flexDirection="column" width={half}>
        <Text bold={theme.emphasis} color={theme.accent}>vCPUs</Text>
        {vcpus.length === 0 ? <Text color={theme.muted}>no vCPU exits in this window</Text> : null}
        {vcpus.slice(0, 6).map((c) => (
          <Text key={c.label} wrap="truncate-end">
            {fit(c.label, Math.max(8, half - 24))} {fit(compact(c.rate), 7, 'right')}/s <Text color={theme.bar}>{bar(c.rate, maxVcpu, 8)}</Text>
          </Text>
        ))}
      </Box>
    </Box>
  );
}
