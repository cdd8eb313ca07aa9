import type { Response } from 'express';
import type { StoredEvent } from '../core/exec-events.ts';

/** Server-Sent Events on an express response. */
export class SseWriter {
  constructor(private readonly res: Response) {}

  /** Sends the headers at once so the client sees the stream open before any output. */
  open(headers: Record<string, string> = {}): void {
    this.res.status(200);
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache, no-transform');
    this.res.setHeader('Connection', 'keep-alive');
    this.res.setHeader('X-Accel-Buffering', 'no');
    for (const [k, v] of Object.entries(headers)) this.res.setHeader(k, v);
    this.res.flushHeaders();
    this.res.socket?.setNoDelay(true);
  }

  event(e: StoredEvent): void {
    this.res.write(`id: ${e.id}\nevent: ${e.event}\ndata: ${e.data}\n\n`);
  }

  /**
   * Answers a resume of a complete stream: 204 No Content, which also tells a browser's
   * EventSource to stop reconnecting.
   */
  complete(): void {
    this.res.status(204).end();
  }

  ping(): void {
    this.res.write(': ping\n\n');
  }

  end(): void {
    this.res.end();
  }

  /** Aborts when the client goes away. */
  closed(): AbortSignal {
    const ac = new AbortController();
    this.res.on('close', () => ac.abort());
    return ac.signal;
  }
}
