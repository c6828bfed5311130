/**
 * Whether a WebSocket client is in the middle of a message, read from the raw
 * bytes it sends (RFC 6455 frame headers; payloads are skipped, not copied).
 *
 * Why: ws bounds a message's size and its number of fragments, not its time. A
 * client can send a text frame with FIN=0 and never the last continuation,
 * while answering every ping (control frames may come between fragments), or
 * stop halfway through a frame; either way it holds a slot forever. ws keeps
 * its parser state private, so the server follows the frame boundaries itself
 * and terminates a client whose unfinished message is older than a deadline.
 *
 * "Unfinished" means: inside a frame (header or payload not complete), or
 * between the frames of a fragmented data message. Control frames in between
 * do not finish anything, so pings, pongs and empty continuations cannot keep
 * a stalled message alive. It starts at the first byte after an idle point.
 */
export class MessageProgress {
  private header: number[] = [];
  private headerNeeded = 2;
  private payloadLeft = 0;
  private inPayload = false;
  private fragmentedMessage = false;
  private since: number | undefined;

  /** When the unfinished message began (the `now` of that chunk), or undefined if none is. */
  get unfinishedSince(): number | undefined {
    return this.since;
  }

  feed(chunk: Uint8Array, now: number): void {
    let i = 0;
    while (i < chunk.length) {
      this.since ??= now;
      if (this.inPayload) {
        const n = Math.min(this.payloadLeft, chunk.length - i);
        this.payloadLeft -= n;
        i += n;
        if (this.payloadLeft === 0) this.endFrame();
        continue;
      }
      this.header.push(chunk[i++] as number);
      if (this.header.length === 2) this.headerNeeded = 2 + extendedLengthBytes(this.header[1] as number) + (((this.header[1] as number) & 0x80) !== 0 ? 4 : 0);
      if (this.header.length === this.headerNeeded) this.startPayload();
    }
  }

  private startPayload(): void {
    const h = this.header;
    const len7 = (h[1] as number) & 0x7f;
    let length = len7;
    if (len7 === 126) length = ((h[2] as number) << 8) | (h[3] as number);
    // a 64-bit length beyond 2^53 loses precision: irrelevant, ws refuses anything above maxPayload
    else if (len7 === 127) length = h.slice(2, 10).reduce((n, b) => n * 256 + b, 0);
    this.payloadLeft = length;
    this.inPayload = true;
    if (length === 0) this.endFrame();
  }

  private endFrame(): void {
    const fin = ((this.header[0] as number) & 0x80) !== 0;
    const opcode = (this.header[0] as number) & 0x0f;
    // data frames (text, binary, continuation) open or close a message; control frames do neither
    if (opcode < 0x8) this.fragmentedMessage = !fin;
    this.header = [];
    this.headerNeeded = 2;
    this.inPayload = false;
    this.payloadLeft = 0;
    if (!this.fragmentedMessage) this.since = undefined;
  }
}

function extendedLengthBytes(second: number): number {
  const len7 = second & 0x7f;
  return len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
}
