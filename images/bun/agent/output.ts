/**
 * One output stream of an execution: keeps the first `maxBytes` bytes, decodes them as UTF-8
 * (a character split across reads is joined before it is emitted), and past the cap keeps
 * reading and dropping so a chatty program is never blocked on a full pipe, only truncated.
 */

export class OutputCollector {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly parts: string[] = [];
  private kept = 0;
  truncated = false;

  /** @param onText receives each decoded piece of retained output (streaming runs) */
  constructor(
    private readonly maxBytes: number,
    private readonly onText?: (text: string) => void,
  ) {}

  /** Reads `stream` to its end (or until `cancel` resolves). */
  async drain(stream: ReadableStream<Uint8Array>, cancel: Promise<void>): Promise<void> {
    const reader = stream.getReader();
    void cancel.then(() => reader.cancel().catch(() => {}));
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.push(value);
      }
    } catch {
      // A cancelled or broken pipe ends the stream; what was read so far stands.
    }
    this.emit(this.decoder.decode());
  }

  push(chunk: Uint8Array): void {
    if (this.truncated) return;
    const room = this.maxBytes - this.kept;
    if (chunk.length > room) {
      this.truncated = true;
      chunk = chunk.subarray(0, charBoundary(chunk, room));
    }
    this.kept += chunk.length;
    this.emit(this.decoder.decode(chunk, { stream: true }));
  }

  text(): string {
    return this.parts.join('');
  }

  private emit(text: string): void {
    if (text === '') return;
    this.parts.push(text);
    this.onText?.(text);
  }
}

/** The largest cut ≤ `at` that does not split a UTF-8 sequence starting inside `chunk`. */
function charBoundary(chunk: Uint8Array, at: number): number {
  let cut = at;
  // 0b10xxxxxx bytes continue a sequence; cutting before one would split a character.
  while (cut > 0 && cut < chunk.length && ((chunk[cut] as number) & 0xc0) === 0x80) cut--;
  return cut;
}
