/**
 * Where the page's messages come from: a recording embedded in the HTML (`exitscope report -f html`,
 * a self-contained file: no server, no WebSocket) or the live stream at /stream (`exitscope serve`).
 *
 * The contract with the HTML writer (src/server/live-page.ts livePage({ embeddedMessages })):
 * `<script type="application/json" id="exitscope-recording">[...messages...]</script>`, the
 * recording's messages as one JSON array with every `<` written as \u003c (so no `</script>` or
 * `<!--` can end or change the element). A type="application/json" script is data, never run,
 * so the page's CSP still allows only its one hashed script.
 */
import { Message } from '../../src/protocol/messages.js';
import { SnapshotMerger } from '../../src/server/merge.js';

export const EMBEDDED_RECORDING_ID = 'exitscope-recording';

export type PageSource =
  /** A report: every message at once; no connection, no pause, no flame snapshots. */
  | { kind: 'embedded'; messages: Message[]; rejected: number }
  /** Live: connect to /stream (web/live/connection.ts). */
  | { kind: 'stream' };

/**
 * The embedded recording if the page has one, else the stream. Each message is checked with the
 * protocol's schema (a file may have been edited): the ones that do not parse are counted, not applied.
 */
export function pageSource(doc: Document): PageSource {
  const element = doc.getElementById(EMBEDDED_RECORDING_ID);
  if (!element || element.getAttribute('type') !== 'application/json') return { kind: 'stream' };
  let data: unknown;
  try {
    data = JSON.parse(element.textContent ?? '[]');
  } catch {
    data = [];
  }
  const list = Array.isArray(data) ? data : [];
  const messages: Message[] = [];
  for (const raw of list) {
    const m = Message.safeParse(raw);
    if (m.success) messages.push(m.data);
  }
  return { kind: 'embedded', messages, rejected: list.length - messages.length };
}

/**
 * A recording as the report shows it: every snapshot summed into one (exact: snapshots are deltas;
 * src/server/merge.ts, as a late client's catch-up), so each window of the model is the whole
 * recording and the numbers are those of `exitscope report`. Other messages keep their order.
 */
export function wholeRecording(messages: readonly Message[]): Message[] {
  const merger = new SnapshotMerger();
  const rest: Message[] = [];
  for (const m of messages) {
    if (m.type === 'snapshot') merger.add(m);
    else rest.push(m);
  }
  const merged = merger.take();
  if (!merged) return rest;
  const end = rest.findIndex((m) => m.type === 'end');
  return end < 0 ? [...rest, merged] : [...rest.slice(0, end), merged, ...rest.slice(end)];
}
