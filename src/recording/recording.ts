/**
 * Recordings: the message stream written as JSON Lines, one message a line,
 * hello first (writer.ts), read back tolerantly and in bounded memory
 * (reader.ts, messages-from-lines.ts). One import for the commands.
 */
export { type Problem, MAX_PROBLEMS_KEPT } from './messages-from-lines.js';
export { describeProblems, MAX_LINE_BYTES, parseRecording, type ReadOptions, type ReadResult, readRecording, RecordingFile } from './reader.js';
export { RecordingWriter, type RecordingWriterOptions } from './writer.js';
