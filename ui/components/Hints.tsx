import { Box, Text } from 'ink';
import type { Hint } from '../../src/report/hints.js';
import type { Theme } from '../theme.js';

export function Hints({ hints, theme, width }: { hints: readonly Hint[]; theme: Theme; width: number }) {
  if (hints.length === 0) return null;
  return (
    <Box flexDirection="column" width={width}>
      {hints.slice(0, 3).map((h) => (
        <Text key={h.id} wrap="wrap" color={h.severity === 'warning' ? theme.danger : theme.warn}>
          {h.severity === 'warning' ? 'WARNING' : 'hint'}: {h.message}
        </Text>
      ))}
    </Box>
  );
}
