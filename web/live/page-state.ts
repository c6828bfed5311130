/**
 * What the page adds to the dashboard's UI state (ui/view-model.ts UiState): the table may also be
 * sorted by the since-start column, the chart may be stacked and have series hidden. Plain data;
 * the views read it, the controls (web/live-page.ts) change it.
 */
import type { ServerSource } from '../../src/server/client-messages.js';
import { INITIAL_UI, type SortKey, type UiState } from '../../ui/view-model.js';

/** The view model's sort keys, plus 'total' (exits since start: a column only the page has). */
export type TableSort = SortKey | 'total';

export interface PageUi {
  ui: UiState;
  tableSort: TableSort;
  stacked: boolean;
  /** Chart series hidden through the legend, by reason key (isa,reason). */
  hidden: Set<string>;
  /** A report (embedded recording): the window is the whole recording. */
  embedded: boolean;
  /** What the server said it serves (welcome): a replay collects nothing. Undefined before, and in a report. */
  server: ServerSource | undefined;
}

export const initialPageUi = (embedded: boolean): PageUi => ({ ui: { ...INITIAL_UI }, tableSort: 'count', stacked: false, hidden: new Set(), embedded, server: undefined });

/** How a column says which span it covers: "10 s", or the whole recording in a report. */
export const windowLabel = (p: PageUi): string => (p.embedded ? 'whole recording' : `${p.ui.windowSeconds} s`);
