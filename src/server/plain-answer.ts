/**
 * The server's plain-text answers (404, and the 400/401/403/503 refusals),
 * for a ServerResponse or written raw on a socket that has no response object
 * (an upgrade request, a malformed request line). Always a content-type and
 * `nosniff`, so that no browser reads an answer as something else.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export const PLAIN_HEADERS = { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' } as const;

/** The answer as raw HTTP/1.1 bytes; the connection is closed after it. */
export function plainAnswer(status: number, text?: string, extra: Record<string, string> = {}): string {
  const reason = STATUS_CODES[status] ?? 'Error';
  const body = `${text ?? reason}\n`;
  const headers = { connection: 'close', ...PLAIN_HEADERS, 'content-length': String(Buffer.byteLength(body)), ...extra };
  return `HTTP/1.1 ${status} ${reason}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`;
}

/**
 * Writes the answer and closes: as Node's own clientError handling does, the
 * write goes to the kernel at once for an answer this small, and nothing the
 * client sends afterwards is read.
 */
export function answerAndClose(socket: Duplex, status: number, text?: string, extra?: Record<string, string>): void {
  if (socket.writable) socket.write(plainAnswer(status, text, extra));
  socket.destroy();
}
