/**
 * Streamed output is coalesced before it is written to Redis: each of stdout and stderr is held
 * until it has {@link MIN_ENTRY_BYTES} or its oldest byte has waited {@link MAX_DELAY_MS}, so a
 * program writing one byte at a time makes one stream entry per 20 ms instead of one per write.
 * Over a stream lasting T, the entries written are at most bytes / 4 KiB + 2 · T / 20 ms + 2.
 * Order within stdout and within stderr is kept; between the two there never was one (two pipes).
 */

export type OutputStream = 'stdout' | 'stderr';

/** An entry is written once it holds this many bytes (UTF-8). */
export const MIN_ENTRY_BYTES = 4096;
/** ...or once its oldest byte has waited this long, ms. */
export const MAX_DELAY_MS = 20;

interface Pending {
  parts: string[];
  bytes: number;
  timer: NodeJS.Timeout | undefined;
}

export class OutputCoalescer {
  private readonly pending: Record<OutputStream, Pending> = {
    stdout: { parts: [], bytes: 0, timer: undefined },
    stderr: { parts: [], bytes: 0, timer: undefined },
  };

  /** @param write called with each coalesced entry, in order per stream */
  constructor(private readonly write: (stream: OutputStream, data: string) => void) {}

  push(stream: OutputStream, data: string): void {
    if (data.length === 0) return;
    const p = this.pending[stream];
    p.parts.push(data);
    p.bytes += Buffer.byteLength(data);
    if (p.bytes >= MIN_ENTRY_BYTES) this.flush(stream);
    else p.timer ??= setTimeout(() => this.flush(stream), MAX_DELAY_MS);
  }

  /** Writes whatever is held (the program ended); later pushes start afresh. */
  close(): void {
    this.flush('stdout');
    this.flush('stderr');
  }

  private flush(stream: OutputStream): void {
    const p = this.pending[stream];
    clearTimeout(p.timer);
    p.timer = undefined;
    if (p.parts.length === 0) return;
    const data = p.parts.join('');
    p.parts = [];
    p.bytes = 0;
    this.write(stream, data);
  }
}
