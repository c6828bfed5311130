/**
 * The live dashboard: one hook reads the store, buildView() turns it into what
 * the panels show, keys change only UI state (or ask the store to pause/reset).
 * No I/O here: the command that renders it owns the collector or the replay.
 */
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { useEffect, useMemo, useRef, useState } from 'react';
import { FaultsPanel } from './components/FaultsPanel.js';
import { FlamePanel, flamePanelRows } from './components/FlamePanel.js';
import { Footer, Help } from './components/Footer.js';
import { Header } from './components/Header.js';
import { RemoteLine } from './components/RemoteLine.js';
import { Hints } from './components/Hints.js';
import { columnsFor, ReasonsTable } from './components/ReasonsTable.js';
import { TdpPanel } from './components/TdpPanel.js';
import { VmsPanel } from './components/VmsPanel.js';
import type { DashboardStore } from './store.js';
import type { Theme } from './theme.js';
import { safeStrings } from '../src/views/safe-text.js';
import { useDashboard } from './use-dashboard.js';
import { buildView, type DashboardView, INITIAL_UI, nextVm, SORT_KEYS, type UiState, WINDOWS } from './view-model.js';

export interface AppProps {
  store: DashboardStore;
  theme: Theme;
  /** Called on q / Ctrl-C, before Ink exits (the command stops collecting and flushes). */
  onQuit?: () => void;
  /** Starts a flame snapshot (progress and result come through the store); returns a message when it cannot. */
  onFlame?: () => string | undefined;
  /** Cancels the snapshot being taken (x while sampling). */
  onFlameCancel?: () => void;
  /** Fixed size (tests); otherwise the terminal's, following resizes. */
  size?: { columns: number; rows: number };
  initialUi?: Partial<UiState>;
}

function useTerminalSize(fixed: AppProps['size']): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = (): { columns: number; rows: number } => fixed ?? { columns: stdout.columns || 80, rows: stdout.rows || 24 };
  const [size, setSize] = useState(read);
  useEffect(() => {
    if (fixed) return;
    const onResize = (): void => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, fixed]);
  return size;
}

export function App({ store, theme, onQuit, onFlame, onFlameCancel, size, initialUi }: AppProps) {
  const snap = useDashboard(store);
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize(size);
  // Keys are handled against the newest state, kept in refs as well as in React state: Ink keeps
  // calling the handler of the last effect, so keys that come right after a change (typed fast,
  // pasted, or sent by a test) would otherwise see the state before it (Enter after a filter kept
  // an empty filter, a key after ? did not close the help).
  const [ui, setUiState] = useState<UiState>({ ...INITIAL_UI, ...initialUi });
  const uiNow = useRef(ui);
  const setUi = (f: (u: UiState) => UiState): void => {
    uiNow.current = f(uiNow.current);
    setUiState(uiNow.current);
  };
  const [help, setHelpState] = useState(false);
  const helpNow = useRef(help);
  const setHelp = (v: boolean): void => {
    helpNow.current = v;
    setHelpState(v);
  };
  const [filterInput, setFilterState] = useState<string | undefined>(undefined);
  const filterNow = useRef(filterInput);
  const setFilterInput = (v: string | undefined): void => {
    filterNow.current = v;
    setFilterState(v);
  };
  const [message, setMessage] = useState<string | undefined>(undefined);

  const view: DashboardView = useMemo(() => buildView(snap.agg, ui, { paused: snap.paused, self: snap.self, source: snap.source }), [snap, ui]);
  // not in the view model but from outside too: a remote server's flame result and failure text,
  // its close reason; neutralised like the view (buildView) before any panel prints them
  const flame = useMemo(() => safeStrings(snap.flame), [snap.flame]);
  const remote = useMemo(() => safeStrings(snap.remote), [snap.remote]);

  useEffect(() => {
    if (!message) return;
    const t = setTimeout(() => setMessage(undefined), 4000);
    return () => clearTimeout(t);
  }, [message]);

  useInput((input, key) => {
    if (key.ctrl && input === 'c') {
      onQuit?.();
      exit();
      return;
    }
    const typed = filterNow.current;
    if (typed !== undefined) {
      if (key.return) {
        setUi((u) => ({ ...u, filter: typed }));
        setFilterInput(undefined);
      } else if (key.escape) {
        setUi((u) => ({ ...u, filter: '' }));
        setFilterInput(undefined);
      } else if (key.backspace || key.delete) setFilterInput(typed.slice(0, -1));
      else if (input && !key.ctrl && !key.meta) setFilterInput(`${typed}${input}`);
      return;
    }
    if (helpNow.current) {
      setHelp(false);
      return;
    }
    switch (input) {
      case 'q':
        onQuit?.();
        exit();
        return;
      case 'p':
        store.togglePause();
        return;
      case 'f':
        if (store.flameState.state === 'sampling') setMessage('a flame snapshot is being taken');
        else setMessage(onFlame ? onFlame() : 'flame snapshots need live collection (exitscope top or flame)');
        return;
      case 'x':
        if (store.flameState.state === 'sampling') {
          onFlameCancel?.();
          setMessage('flame snapshot cancelled: nothing written');
        } else if (store.flameState.state !== 'idle') store.setFlame({ state: 'idle' });
        return;
      case 's': {
        // only the columns on screen (80 columns hide p50)
        const keys = SORT_KEYS.filter((k) => k !== 'p50' || columnsFor(width).cols.some((c) => c.sort === 'p50'));
        setUi((u) => ({ ...u, sort: keys[(keys.indexOf(u.sort) + 1) % keys.length] ?? 'count' }));
        return;
      }
      case 'S':
        setUi((u) => ({ ...u, sortDesc: !u.sortDesc }));
        return;
      case '/':
        setFilterInput(uiNow.current.filter);
        return;
      case 'v':
        setUi((u) => ({ ...u, vm: nextVm(view, u.vm) }));
        return;
      case '1':
      case '2':
      case '3':
        setUi((u) => ({ ...u, windowSeconds: WINDOWS[Number(input) - 1] ?? 10 }));
        return;
      case 'r':
        store.reset();
        setMessage('counts reset');
        return;
      case '?':
        setHelp(true);
        return;
      default:
        return;
    }
  });

  const width = Math.max(40, columns - 1);
  const side = width >= 96;
  const panelWidth = side ? Math.floor((width - 2) / 2) : width;
  // Short terminals get shorter panels; the reasons table gets the rows that are left.
  const short = rows < 40;
  const panelRows = short ? 4 : 8;
  const fixedRows = 3 + 1 + 2 + 1 + (side ? 1 + panelRows + 2 : 2 * (1 + 4) + 1 + 2) + 1 + 1 + (short ? 3 : 6) + 2;
  const flameTop = short ? 3 : 5;
  const remoteRows = remote ? 1 : 0;
  const reasonRows = Math.max(3, rows - 1 - fixedRows - remoteRows - flamePanelRows(flame, flameTop));
  if (help) return <Help theme={theme} />;
  // Never taller than the terminal (Ink would clear and redraw the whole screen every frame):
  // panels keep their size (no shrinking, which would overlap their lines) and what does not
  // fit is cut at the bottom, above the footer.
  return (
    <Box flexDirection="column" width={width} height={Math.max(10, rows - 1)}>
      <Box flexDirection="column" flexGrow={1} flexShrink={1} overflow="hidden">
        {remote ? (
          <Box flexShrink={0}>
            <RemoteLine r={remote} theme={theme} />
          </Box>
        ) : null}
        <Box flexShrink={0}>
          <Header h={view.header} theme={theme} width={width} />
        </Box>
        {flame.state !== 'idle' ? (
          <Box flexShrink={0}>
            <FlamePanel f={flame} theme={theme} width={width} top={flameTop} />
          </Box>
        ) : null}
        <Box marginTop={1} flexShrink={0}>
          <ReasonsTable r={view.reasons} state={view.state} theme={theme} width={width} maxRows={reasonRows} />
        </Box>
        <Box marginTop={1} flexShrink={0} flexDirection={side ? 'row' : 'column'}>
          <Box marginRight={side ? 2 : 0} flexShrink={0}>
            <FaultsPanel f={view.faults} theme={theme} width={panelWidth} maxRows={short ? 3 : 5} />
          </Box>
          <Box marginTop={side ? 0 : 1} flexShrink={0}>
            <TdpPanel t={view.tdp} theme={theme} width={panelWidth} maxRows={panelRows} />
          </Box>
        </Box>
        <Box marginTop={1} flexShrink={0}>
          <VmsPanel vms={view.vms} vcpus={view.vcpus} theme={theme} width={width} maxRows={short ? 3 : 6} />
        </Box>
        <Box flexShrink={0}>
          <Hints hints={view.hints.filter((h) => h.id !== 'shadow-paging' || !view.tdp.shadowPaging)} theme={theme} width={width} />
        </Box>
        {view.header.ended && view.header.source === 'live' ? <Text color={theme.danger}>collection stopped: the stream ended</Text> : null}
      </Box>
      <Box flexShrink={0}>
        <Footer theme={theme} message={message} filterInput={filterInput} width={width} />
      </Box>
    </Box>
  );
}
