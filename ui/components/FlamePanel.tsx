/**
 * The flame snapshot in the dashboard: a progress bar while sampling, then the
 * top frames (total and self) and where the files are. x closes it.
 */
import { Box, Text } from 'ink';
import { type FrameShare, KIND_TAG } from '../../src/flame/summary.js';
import type { FlameState } from '../store.js';
import type { Theme } from '../theme.js';

/** Rows the panel takes for a state (the dashboard gives the rest to the reasons table). */
export function flamePanelRows(f: FlameState, top: number): number {
  switch (f.state) {
    case 'idle':
      return 0;
    case 'sampling':
    case 'failed':
      return 3;
    case 'done':
      return 2 + 2 + Math.min(top, Math.max(f.summary.topTotal.length, f.summary.topSelf.length)) + f.files.length;
  }
}

function shareLine(f: FrameShare | undefined, width: number): string {
  if (!f) return '';
  const text = `${(f.share * 100).toFixed(1).padStart(5)}% ${f.name}${KIND_TAG[f.kind]}`;
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

export function FlamePanel({ f, theme, width, top }: { f: FlameState; theme: Theme; width: number; top: number }) {
  if (f.state === 'idle') return null;
  const title = <Text bold={theme.emphasis} color={theme.accent}>flame snapshot</Text>;
  if (f.state === 'sampling') {
    const barWidth = Math.max(10, Math.min(40, width - 40));
    const done = f.seconds > 0 ? Math.round((f.elapsed / f.seconds) * barWidth) : 0;
    const what = f.phase === 'attaching' ? 'attaching probes' : f.phase === 'resolving' ? 'resolving symbols' : `sampling ${f.elapsed.toFixed(1)}/${f.seconds} s`;
    return (
      <Box flexDirection="column" width={width} borderStyle="single" borderColor={theme.muted} paddingX={1}>
        <Text wrap="truncate-end">
          {title} <Text color={theme.bar}>{'█'.repeat(done)}</Text>
          <Text color={theme.muted}>{'░'.repeat(barWidth - done)}</Text> {what} <Text color={theme.muted}>(x cancels)</Text>
        </Text>
      </Box>
    );
  }
  if (f.state === 'failed')
    return (
      <Box flexDirection="column" width={width} borderStyle="single" borderColor={theme.danger} paddingX={1}>
        <Text wrap="truncate-end">
          {title} <Text color={theme.danger}>{f.message}</Text> <Text color={theme.muted}>(x closes)</Text>
        </Text>
      </Box>
    );
  const col = Math.max(20, Math.floor((width - 6) / 2));
  const rows = Math.min(top, Math.max(f.summary.topTotal.length, f.summary.topSelf.length));
  return (
    <Box flexDirection="column" width={width} borderStyle="single" borderColor={theme.accent} paddingX={1}>
      <Text wrap="truncate-end">
        {title} <Text color={theme.muted}>{f.summary.samples} samples; {f.summary.byState.slice(0, 3).map((s) => `${s.name.slice(1, -1)} ${(s.share * 100).toFixed(0)}%`).join(', ')} (x closes)</Text>
      </Text>
      <Text bold={theme.emphasis} wrap="truncate-end">
        {'top total'.padEnd(col)} {'top self'}
      </Text>
      {Array.from({ length: rows }, (_, i) => (
        <Text key={i} wrap="truncate-end">
          {shareLine(f.summary.topTotal[i], col)} {shareLine(f.summary.topSelf[i], col)}
        </Text>
      ))}
      {f.files.map((p) => (
        <Text key={p} color={theme.muted} wrap="truncate-start">
          {p}
        </Text>
      ))}
    </Box>
  );
}
