/**
 * The stream's version (docs/protocol.md), apart from its zod schemas (messages.ts): what writes
 * the stream (the collector) needs only this number, and loading zod costs every start time.
 */
export const PROTOCOL_VERSION = 1;
