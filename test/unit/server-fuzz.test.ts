/**
 * Fuzzing the server's whole network surface on a real StreamServer (127.0.0.1,
 * tokens configured): thousands of malformed HTTP requests and upgrades, and
 * after valid handshakes, malformed WebSocket frames. Reproducible: one seeded
 * PRNG (FUZZ_SEED=n to try another; the seed and the case counts are printed).
 *
 * After every batch the server must still do its job for a legitimate client
 * (token, welcome, a published snapshot); every plain answer it gives must carry
 * nosniff and a content-type; no uncaught exception or unhandled rejection may
 * happen; no fuzz client may be left holding a slot at the end.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Message, Message as MessageSchema } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { StreamServer } from '../../src/server/server.js';
import { until } from './support/ink-wait.js';
import { exchange, type FrameSpec, frame, headersOf, type RawExchange, statusOf, upgradeRequest } from './support/raw-client.js';
import { prng } from './support/prng.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2024);
const HTTP_CASES = 1600;
const WS_CASES = 1600;
const BATCH = 200;
const CONCURRENCY = 12;
/**
 * How long a case waits for the server to close before the client gives up (not asserted on). A
 * WebSocket case is answered 101 for certain, so it waits for that answer however late it comes
 * (awaitHead: a busy machine only makes the case slower, never a handshake look refused).
 */
const CASE_WAIT_MS = 250;
const TOKEN = 'c-secret-fuzz';
const READ_TOKEN = 'r-secret-fuzz';

const snapshot = parseRecording(readFileSync(join(import.meta.dirname, '../fixtures/recordings/run-mix-3-vcpus-2-npt-on.jsonl'), 'utf8')).messages.find((m) => m.type === 'snapshot') as Message;


const rand = prng(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const chance = (p: number): boolean => rand() < p;
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
const latin1 = (n: number): string => bytes(n).toString('latin1');

// ---- HTTP requests --------------------------------------------------------------------------

const METHODS = ['GET', 'GET', 'GET', 'POST', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'CONNECT', 'TRACE', 'PATCH', 'PRI', 'get', 'G\u0000T', 'GETT', ''];
const PATHS = ['/', '/stream', '//', '//[::', '//:99999', '//[::]:1/stream', '%', '/%', '/%zz', '/%00', '*', '//stream', '/stream/', '/stream?', '/stream?token=', `/stream?token=${TOKEN}`, `/stream?token=${TOKEN}&token=x`, '/stream?token=%', '/stream?%%%=%', 'http://x/stream', 'http://[::/stream', 'https://h:99999/', 'ws://127.0.0.1/stream', '/stream#frag', '/\u00e9\u00fc', '/\u0001\u007f\u0080', '/..%2f..%2fetc/passwd', ''];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1 extra', 'http/1.1', ''];

function path(): string {
  const base = pick(PATHS);
  switch (int(6)) {
    case 0:
      return `${base}${'a'.repeat(int(20_000))}`;
    case 1:
      return `${base}${latin1(int(40))}`;
    case 2:
      return `/?${Array.from({ length: int(300) }, (_, i) => `k${i}=${'v'.repeat(int(50))}`).join('&')}`;
    default:
      return base;
  }
}

type Header = [string, string];
const HEADERS: (() => Header[])[] = [
  () => [['Host', pick(['127.0.0.1', '', '[::', 'a b', '127.0.0.1:99999', latin1(20), 'x'.repeat(5000)])]],
  () => [['Host', '127.0.0.1'], ['Host', 'evil.example']],
  () => [['Origin', pick(['null', '', 'http://[::', 'http://127.0.0.1:1', 'https://evil.example', '://', 'http://', latin1(30), `http://${'x'.repeat(3000)}`])]],
  () => [['Origin', 'http://127.0.0.1:1'], ['Origin', 'http://127.0.0.1:2']],
  () => [['Authorization', pick([`Bearer ${TOKEN}`, `Bearer ${READ_TOKEN}`, 'Bearer ', 'Bearer', 'Basic Zm9vOmJhcg==', latin1(40), `Bearer ${'t'.repeat(8000)}`])]],
  () => [['Authorization', `Bearer ${TOKEN}`], ['Authorization', 'Bearer wrong']],
  () => [['Upgrade', pick(['websocket', 'WebSocket', 'h2c', 'websocket, h2c', '', latin1(10)])], ['Connection', pick(['Upgrade', 'close', 'keep-alive, Upgrade', ''])]],
  () => [['Sec-WebSocket-Key', pick(['dGhlIHNhbXBsZSBub25jZQ==', 'short', '', '================', latin1(24)])]],
  () => [['Sec-WebSocket-Version', pick(['13', '8', '99', 'abc', '', '13, 8', '-1'])]],
  () => [['Sec-WebSocket-Protocol', pick(['', ',,,', 'a b', 'chat, chat', latin1(20)])]],
  () => [['Sec-WebSocket-Extensions', pick(['permessage-deflate', 'permessage-deflate; x=', ';;;', latin1(20)])]],
  () => [['Content-Length', pick(['5', '-1', 'abc', '99999999999999999999', '0'])]],
  () => [['Content-Length', '1'], ['Content-Length', '2']],
  () => [['Transfer-Encoding', pick(['chunked', 'gzip', 'chunked, chunked', latin1(8)])]],
  () => [['Expect', pick(['100-continue', 'something-else', ''])]],
  () => [['X-Huge', 'h'.repeat(int(40_000))]],
  () => Array.from({ length: int(300) }, (_, i): Header => [`X-Many-${i}`, String(i)]),
  () => [[latin1(int(12) + 1), latin1(int(20))]],
  () => [['No-Colon-Here', '\u0000'], [' obs-fold', 'continued']],
];

function httpRequest(): { chunks: Buffer[]; label: string } {
  if (chance(0.05)) return { chunks: [bytes(int(600) + 1)], label: 'random bytes' };
  const upgrade = chance(0.45);
  const headers: Header[] = [];
  if (upgrade) {
    const u = upgradeRequest(pick(['/stream', '/stream', path()]), chance(0.6) ? { authorization: `Bearer ${TOKEN}` } : {});
    for (const line of u.split('\r\n').slice(1)) if (line.includes(': ') && chance(0.85)) headers.push(line.split(': ', 2) as Header);
  } else if (chance(0.8)) headers.push(['Host', '127.0.0.1']);
  for (let i = chance(0.4) ? 0 : int(3) + 1; i > 0; i--) headers.push(...pick(HEADERS)());
  const eol = chance(0.9) ? '\r\n' : pick(['\n', '\r', '']);
  let text = `${upgrade ? pick(['GET', 'GET', 'GET', 'POST', 'get']) : pick(METHODS)} ${upgrade && chance(0.5) ? '/stream' : path()} ${pick(VERSIONS)}${eol}${headers.map(([k, v]) => `${k}: ${v}${eol}`).join('')}`;
  if (chance(0.9)) text += eol;
  if (chance(0.2)) text += latin1(int(200));
  let raw = Buffer.from(text, 'latin1');
  if (chance(0.1)) raw = raw.subarray(0, int(raw.length)); // cut short
  if (chance(0.1)) for (let i = int(5) + 1; i > 0 && raw.length; i--) raw[int(raw.length)] = int(256); // flipped bytes
  // one write, or split at random points (a request that arrives in pieces)
  const chunks: Buffer[] = [];
  let at = 0;
  while (chance(0.3) && at < raw.length) {
    const cut = at + int(raw.length - at);
    chunks.push(raw.subarray(at, cut));
    at = cut;
  }
  chunks.push(raw.subarray(at));
  return { chunks, label: upgrade ? 'upgrade' : 'request' };
}

// ---- WebSocket frames after a valid handshake -------------------------------------------------

const CLOSE_CODES = [0, 999, 1000, 1001, 1004, 1005, 1006, 1011, 1015, 2999, 3000, 4999, 5000, 65535];
const badUtf8 = (): Buffer => pick([Buffer.from([0xc3, 0x28]), Buffer.from([0xff, 0xfe]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('{"type":"ping"\xff}', 'latin1')]);
const goodJson = (): string =>
  JSON.stringify(
    pick([
      { type: 'ping' },
      { type: 'subscribe', topics: pick([['snapshot'], [], ['nope'], 'snapshot', ['vm', 'end', 'flame']]) },
      { type: 'flame', seconds: pick([1, 5, 0, -1, 1e9, 'x', null]) },
      { type: pick(['shutdown', '', '__proto__', 'constructor']) },
      { __proto__: { type: 'ping' } },
      [1, 2, 3],
      'just a string',
      null,
    ]),
  );

const FRAMES: (() => FrameSpec | Buffer)[] = [
  () => ({ opcode: 0x1, payload: goodJson() }),
  () => ({ opcode: 0x1, payload: pick(['{not json', '', '{"type":"ping"', '\u0000', 'x'.repeat(int(5000))]) }),
  () => ({ opcode: 0x1, payload: badUtf8() }),
  () => ({ opcode: 0x2, payload: bytes(int(100)) }),
  () => ({ opcode: pick([0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]), payload: bytes(int(20)) }),
  () => ({ opcode: pick([0x1, 0x2, 0x9]), rsv: int(7) + 1, payload: 'x' }),
  () => ({ opcode: 0x1, declaredLength: pick([126, 4097, 65535, 65536, 2 ** 32, 2 ** 40, 2 ** 53 - 1]), payload: bytes(int(64)) }),
  () => ({ opcode: 0x1, payload: goodJson(), masked: false }),
  () => ({ opcode: 0x1, fin: false, payload: '{"type":' }),
  () => ({ opcode: 0x0, fin: chance(0.5), payload: '"ping"}' }),
  () => ({ opcode: 0x0, payload: bytes(int(10)) }),
  () => ({ opcode: 0x9, payload: bytes(int(130)) }),
  () => ({ opcode: 0xa, payload: bytes(int(20)) }),
  () => ({ opcode: 0x9, fin: false }),
  () => {
    const p = Buffer.alloc(2 + int(10));
    p.writeUInt16BE(pick(CLOSE_CODES), 0);
    return { opcode: 0x8, payload: chance(0.3) ? Buffer.concat([p.subarray(0, 2), badUtf8()]) : p };
  },
  () => ({ opcode: 0x8, payload: Buffer.from([0x03]) }),
  () => bytes(int(40) + 1),
  () => frame({ opcode: 0x1, payload: goodJson() }).subarray(0, 1 + int(6)), // cut off
];

function wsCase(): { chunks: Buffer[]; gapMs: number } {
  const auth = pick<Record<string, string>>([{ authorization: `Bearer ${TOKEN}` }, { authorization: `Bearer ${READ_TOKEN}` }, {}]);
  const handshake = Buffer.from(upgradeRequest(Object.keys(auth).length ? '/stream' : `/stream?token=${TOKEN}`, auth), 'latin1');
  const frames = Array.from({ length: int(6) + 1 }, () => {
    const f = pick(FRAMES)();
    return Buffer.isBuffer(f) ? f : frame(f);
  });
  // frames in the handshake's packet (ws gets them as `head`) or in later reads
  return chance(0.3) ? { chunks: [Buffer.concat([handshake, ...frames])], gapMs: 0 } : { chunks: [handshake, ...frames], gapMs: pick([0, 5]) };
}

// ---- the run ----------------------------------------------------------------------------------

let server: StreamServer;
let port: number;
const log: string[] = [];
const uncaught: unknown[] = [];
const onUncaught = (e: unknown): void => {
  uncaught.push(e);
};

beforeAll(async () => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  server = new StreamServer({
    host: '127.0.0.1',
    port: 0,
    tokens: { control: TOKEN, read: READ_TOKEN },
    heartbeatMs: 1000,
    messageDeadlineMs: 500,
    headersTimeoutMs: 1000,
    onLog: (l) => log.push(l),
    onFlameRequest: (seconds) => (seconds > 3 ? 'flame snapshots are not available in the fuzz' : undefined),
  });
  ({ port } = await server.listen());
});

afterAll(async () => {
  await server.close();
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});

/** Runs the cases with at most CONCURRENCY connections at once. */
async function pool<T>(cases: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) {
        const i = next++;
        out[i] = await (cases[i] as () => Promise<T>)();
      }
    }),
  );
  return out;
}

/** A legitimate client still gets served: welcome, then a snapshot published now. */
async function legitimateClientServed(): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/stream`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const got: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const giveUp = setTimeout(() => reject(new Error(`no snapshot; got ${got.join(', ')}`)), 10_000);
      ws.on('error', reject);
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { type: string };
        got.push(m.type);
        if (m.type === 'welcome') server.publish(snapshot);
        if (m.type === 'snapshot' && got[0] === 'welcome') {
          clearTimeout(giveUp);
          resolve();
        }
      });
    });
  } finally {
    ws.terminate();
  }
}

const statuses = new Map<string, number>();
function tally(kind: string, r: RawExchange, sent: Buffer[] = []): void {
  const status = statusOf(r.bytes);
  const key = `${kind} ${status ?? (r.closedByServer ? 'closed' : 'open')}`;
  statuses.set(key, (statuses.get(key) ?? 0) + 1);
  // every plain answer, whoever wrote it (our handlers, ws, Node's parser errors), is marked
  if (status !== undefined && status >= 200 && r.bytes.includes('\r\n\r\n')) {
    const h = headersOf(r.bytes);
    expect(h["x-content-type-options"], `${status} without nosniff: ${JSON.stringify(r.bytes.toString("latin1").slice(0, 300))} for ${JSON.stringify(Buffer.concat(sent).toString("latin1").slice(0, 300))}`).toBe('nosniff');
    expect(h['content-type'], `${status} without a content-type`).toBeDefined();
  }
}

it(`survives ${HTTP_CASES} malformed HTTP requests and ${WS_CASES} malformed WebSocket sessions (seed ${SEED})`, { timeout: 120_000 }, async () => {
  console.log(`server fuzz: seed ${SEED} (FUZZ_SEED=n for another), ${HTTP_CASES} HTTP cases, ${WS_CASES} WebSocket cases, batches of ${BATCH}`);
  let batches = 0;
  let accepted = 0;
  const run = async (n: number, make: () => () => Promise<void>): Promise<void> => {
    for (let done = 0; done < n; done += BATCH) {
      await pool(Array.from({ length: Math.min(BATCH, n - done) }, make));
      await legitimateClientServed();
      batches++;
    }
  };
  await run(HTTP_CASES, () => {
    const { chunks, label } = httpRequest();
    const end = chance(0.8);
    return async () => tally(label, await exchange(port, chunks, CASE_WAIT_MS, { end }), chunks);
  });
  await run(WS_CASES, () => {
    const { chunks, gapMs } = wsCase();
    const end = chance(0.5);
    return async () => {
      const r = await exchange(port, chunks, CASE_WAIT_MS, { end, gapMs, awaitHead: true });
      if (statusOf(r.bytes) === 101) accepted++;
      tally('websocket', r);
    };
  });
  console.log(`server fuzz: ${batches} batches, each followed by a served legitimate client; answers: ${[...statuses].sort().map(([k, n]) => `${k}: ${n}`).join(', ')}; ${log.length} log lines`);
  // the frames really reached the WebSocket layer (not just refused handshakes)
  expect(accepted).toBeGreaterThan(WS_CASES * 0.9);
  // nobody is left holding a slot once the fuzz clients are gone
  await until(() => server.clientCount === 0, 'the fuzz clients to be gone from the server', 20_000);
  await legitimateClientServed();
  expect(uncaught).toEqual([]);
  for (const l of log) expect(l).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  expect(MessageSchema.safeParse(snapshot).success).toBe(true);
});
