/**
 * The guest's stdout and stderr reach the host on two serial ports (QEMU) or one console (Bochs,
 * tagged per stream), in chunks that end anywhere. Written as they come, a line of one stream is
 * cut in two by a line of the other on a terminal (the report's first row cut by `exitscope:
 * recording written ...`). Each stream is passed on a whole line at a time instead; a line with no
 * end yet goes out after `holdMs` all the same (a prompt, a progress dot) and at flush().
 */
export class WholeLines {
  private rest: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (b: Buffer) => void,
    private readonly holdMs = 200,
  ) {}

  push(chunk: Buffer): void {
    const nl = chunk.lastIndexOf(10);
    if (nl < 0) {
      this.keep(chunk);
      return;
    }
    const lines = chunk.subarray(0, nl + 1);
    this.disarm();
    this.write(this.rest.length ? Buffer.concat([...this.rest, lines]) : lines);
    this.rest = [];
    if (nl + 1 < chunk.length) this.keep(chunk.subarray(nl + 1));
  }

  /** Writes what is held (the stream ended, or the lab is done). */
  flush(): void {
    this.disarm();
    if (this.rest.length === 0) return;
    const b = Buffer.concat(this.rest);
    this.rest = [];
    this.write(b);
  }

  private keep(part: Buffer): void {
    // a copy: the caller's buffer may be reused once push() returns
    this.rest.push(Buffer.from(part));
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.holdMs);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
