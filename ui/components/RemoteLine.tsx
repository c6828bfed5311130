/** attach: which server the dashboard shows, and the connection's state. */
import { Text } from 'ink';
import type { RemoteState } from '../../src/remote/remote-stream.js';
import type { Theme } from '../theme.js';

export function RemoteLine({ r, theme }: { r: RemoteState; theme: Theme }) {
  if (r.state === 'connected')
    return (
      <Text wrap="truncate-end">
        <Text color={theme.good}>⇄ connected</Text> <Text color={theme.muted}>{r.url} ({r.rights === 'control' ? 'control' : 'read-only'})</Text>
      </Text>
    );
  if (r.state === 'connecting')
    return (
      <Text wrap="truncate-end" color={theme.warn}>
        ⇄ connecting to {r.url}...
      </Text>
    );
  return (
    <Text wrap="truncate-end" color={theme.danger}>
      ⇄ disconnected, reconnecting in {r.inSeconds < 1 ? r.inSeconds.toFixed(1) : r.inSeconds.toFixed(0)} s: {r.why} ({r.url})
    </Text>
  );
}
