/**
 * What WebSocket clients may send, and what the server sends them besides the
 * stream itself (docs/protocol.md, "WebSocket"). Everything inbound is
 * validated here; nothing else is accepted.
 */
import { z } from 'zod';

export const TOPICS = ['snapshot', 'vm', 'lost', 'gap', 'error', 'exit', 'end', 'flame', 'collector'] as const;
export type Topic = (typeof TOPICS)[number];

export const ClientMessage = z.discriminatedUnion('type', [
  /** Which message types to receive (hello and server messages always come). Default: all. */
  z.object({ type: z.literal('subscribe'), topics: z.array(z.enum(TOPICS)).max(TOPICS.length) }).strict(),
  /** Ask for a flame snapshot (control rights). */
  z.object({ type: z.literal('flame'), seconds: z.number().min(1).max(60).optional() }).strict(),
  z.object({ type: z.literal('ping') }).strict(),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export type Rights = 'read' | 'control';

/** What the server serves: a live trace (serve, top --serve) or a recording (serve --replay: nothing is collected). */
export type ServerSource = 'live' | 'replay';

/**
 * The collector's own cost (src/collector/self-usage.ts), every few seconds from a live server
 * (not from serve --replay). Checked by clients (attach, the page): it comes from the network.
 */
export const CollectorStatsMessage = z.object({
  type: z.literal('collector'),
  /** When it was measured: ms since the stream started, as the stream's own `t`. */
  t: z.number().finite(),
  /** The span the CPU figure covers, in ms. */
  ms: z.number().finite().nonnegative(),
  /** CPU time over that span: a fraction of one core (1 = one core busy). */
  cpu: z.number().finite().nonnegative(),
  /** Resident memory of the collector's process. */
  rssBytes: z.number().int().nonnegative(),
});
export type CollectorStatsMessage = z.infer<typeof CollectorStatsMessage>;

export type ServerMessage =
  /** First, before the stream: the protocol version and what this client may do. */
  | { type: 'welcome'; v: number; rights: Rights; topics: Topic[]; source: ServerSource }
  /** A message refused (bad JSON, unknown type, not allowed): the connection stays open, up to a limit. */
  | { type: 'reject'; code: 'BAD_JSON' | 'BAD_MESSAGE' | 'FORBIDDEN' | 'BUSY' | 'UNAVAILABLE'; message: string }
  /** The client fell behind: `merged` snapshots were summed into the next one, `dropped` other messages lost. */
  | { type: 'behind'; merged: number; dropped: number }
  | CollectorStatsMessage
  | { type: 'pong' };
