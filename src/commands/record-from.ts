/**
 * `exitscope record --from ws://HOST:PORT -o FILE`: a remote stream into a file,
 * in the same format as a local recording (the server's catch-up gives the
 * hello, the VMs and the totals so far, then the live stream follows).
 * No reconnection: a reconnect would replay the totals and count them twice.
 */
import { WebSocket } from 'ws';
import { UserError } from '../errors.js';
import { Message } from '../protocol/messages.js';
import { RecordingWriter } from '../recording/recording.js';
import { refusalError } from '../remote/remote-stream.js';
import { safeText } from '../views/safe-text.js';
import { onInterrupt } from './live.js';

export function streamUrl(from: string): URL {
  let url: URL;
  try {
    url = new URL(from);
  } catch {
    throw new UserError('BAD_URL', `'${from}' is not a URL`, 'give the server as ws://HOST:PORT');
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new UserError('BAD_URL', `'${from}' is not a ws:// or wss:// URL`, 'give the server as ws://HOST:PORT');
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/stream';
  return url;
}

export async function recordFromCommand(o: { from: string; token?: string; output: string; duration?: number; quiet?: boolean }): Promise<number> {
  const url = streamUrl(o.from);
  const say = (l: string): void => {
    // lines quote the server (its close reason, a reject): neutralised like every notice
    if (!o.quiet) process.stderr.write(`${safeText(l)}\n`);
  };
  return new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(url, { headers: o.token ? { authorization: `Bearer ${o.token}` } : {}, maxPayload: 64 << 20, handshakeTimeout: 10_000 });
    let writer: RecordingWriter | undefined;
    let ended = false;
    let behind = 0;
    let settled = false;
    const finish = (status: number, why?: string): void => {
      if (settled) return;
      settled = true;
      off();
      if (timer) clearTimeout(timer);
      writer?.close();
      if (why) say(why);
      say(`exitscope: ${writer?.lines ?? 0} messages written to ${o.output}${behind ? ` (${behind} times behind: missed snapshots were merged, counts stay exact)` : ''}`);
      resolve(status);
    };
    // a failed write of the recording (disk full): stop at once, the command's error is the write's
    // (the CLI prints it with its fix, status 2); what was written stays readable
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      off();
      if (timer) clearTimeout(timer);
      writer?.close();
      ws.close(1000);
      reject(e);
    };
    const off = onInterrupt(() => {
      ws.close(1000);
      finish(0);
    });
    const timer = o.duration
      ? setTimeout(() => {
          ws.close(1000);
          finish(0);
        }, o.duration * 1000)
      : undefined;
    ws.on('unexpected-response', (_req, res) => {
      settled = true;
      off();
      if (timer) clearTimeout(timer);
      ws.terminate();
      reject(refusalError(url, res.statusCode ?? 0));
    });
    ws.on('error', (e) => {
      if (settled) return;
      settled = true;
      off();
      if (timer) clearTimeout(timer);
      writer?.close();
      reject(new UserError('REMOTE_UNREACHABLE', `cannot connect to ${url.host}: ${e.message}`, 'check that `exitscope serve` runs there and the port is reachable (a lab: --forward)'));
    });
    ws.on('message', (data) => {
      if (settled) return; // stopped (Ctrl-C, --duration): frames still arriving are not ours to write
      let json: { type?: string };
      try {
        json = JSON.parse(String(data)) as { type?: string };
      } catch {
        return;
      }
      if (json.type === 'behind') behind++;
      if (json.type === 'reject') say(`exitscope: the server refused a message: ${JSON.stringify(json)}`);
      const m = Message.safeParse(json);
      if (!m.success) return; // server messages (welcome, behind, flame) are not part of a recording
      try {
        writer ??= new RecordingWriter(o.output, { onFailure: fail });
      } catch (e) {
        return fail(e); // RECORDING_OPEN: thrown here it would escape the socket's event handler
      }
      writer.write(m.data);
      if (settled) return; // the write failed
      if (m.data.type === 'end') {
        ended = true;
        ws.close(1000);
        finish(0);
      }
    });
    ws.on('open', () => say(`exitscope: recording ${url.href} to ${o.output}; Ctrl-C to stop`));
    ws.on('close', (code, reason) => {
      if (!ended) finish(1, `exitscope: the server closed the connection before the stream ended (${code}${reason.length ? ` ${reason}` : ''}); what arrived is kept`);
    });
  });
}
