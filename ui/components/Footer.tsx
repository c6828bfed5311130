import { Box, Text } from 'ink';
import { safeText } from '../../src/views/safe-text.js';
import type { Theme } from '../theme.js';

export const KEYS: readonly [string, string][] = [
  ['p', 'pause / resume the display (collection continues; resume catches up)'],
  ['f', 'flame snapshot of the vCPU threads (top frames here, files in the current directory)'],
  ['x', 'close the flame snapshot (or cancel the one being taken)'],
  ['s / S', 'sort column / direction'],
  ['/', 'filter exit reasons by text (Enter keeps, Esc clears)'],
  ['v', 'cycle the VM every panel is filtered to (all VMs, then each)'],
  ['1 2 3', 'window 1 s / 10 s / 60 s'],
  ['r', 'reset the counts'],
  ['?', 'this help'],
  ['q / Ctrl-C', 'quit (the terminal is restored, the recording flushed)'],
];

export function Footer({ theme, message, filterInput, width }: { theme: Theme; message: string | undefined; filterInput: string | undefined; width: number }) {
  const keys = 'p pause  f flame  s/S sort  / filter  v VM  1/2/3 window  r reset  ? help  q quit';
  return (
    <Box flexDirection="column">
      {filterInput !== undefined ? (
        <Text>
          filter: <Text color={theme.accent}>{safeText(filterInput)}</Text>
          <Text inverse> </Text> <Text color={theme.muted}>(Enter keeps, Esc clears)</Text>
        </Text>
      ) : message ? (
        // the message may quote a server's reply (attach) or an error's text
        <Text color={theme.warn}>{safeText(message)}</Text>
      ) : null}
      <Text color={theme.muted} wrap="truncate-end">
        {keys.length <= width ? keys : keys.replaceAll('  ', ' ')}
      </Text>
    </Box>
  );
}

export function Help({ theme }: { theme: Theme }) {
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold={theme.emphasis} color={theme.accent}>keys (any key closes this)</Text>
      {KEYS.map(([k, what]) => (
        <Text key={k}>
          <Text bold={theme.emphasis}>{k.padEnd(11)}</Text> {what}
        </Text>
      ))}
    </Box>
  );
}
