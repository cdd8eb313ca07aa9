/**
 * A Server-Sent Events reader following the WHATWG event-stream rules: lines end in CRLF, LF or
 * CR; `field: value` with one optional space after the colon; lines starting with `:` are
 * comments; several `data:` lines join with `\n`; a blank line dispatches; an event with no data
 * is not dispatched; `id` persists until changed; an unterminated event at end of stream is
 * dropped (a cut connection never yields half an event).
 */

/** One dispatched event. */
export interface SseMessage {
  /** `event:` field; `message` when absent. */
  event: string;
  /** Joined `data:` lines. */
  data: string;
  /** The last event id seen so far on this connection (`id:` persists across events). */
  id: string | undefined;
}

/** Incremental parser: feed decoded text with {@link SseParser.push}, collect messages. */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #lastId: string | undefined;
  #skipLf = false;

  /** Parses `text` and returns the events it completed. */
  push(text: string): SseMessage[] {
    this.#buffer += text;
    const out: SseMessage[] = [];
    for (let line = this.#nextLine(); line !== undefined; line = this.#nextLine()) {
      const message = this.#line(line);
      if (message) out.push(message);
    }
    return out;
  }

  /**
   * Cuts the next complete line off the buffer. A CR at the very end of a chunk ends its line at
   * once (an event must not wait for the next chunk); an LF opening the next chunk is then the
   * second half of a CRLF and is skipped.
   */
  #nextLine(): string | undefined {
    if (this.#skipLf && this.#buffer !== '') {
      if (this.#buffer.startsWith('\n')) this.#buffer = this.#buffer.slice(1);
      this.#skipLf = false;
    }
    const match = /\r\n|\r|\n/.exec(this.#buffer);
    if (!match) return undefined;
    const end = match.index + match[0].length;
    this.#skipLf = match[0] === '\r' && end === this.#buffer.length;
    const line = this.#buffer.slice(0, match.index);
    this.#buffer = this.#buffer.slice(end);
    return line;
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    this.#field(field, value);
    return undefined;
  }

  #field(field: string, value: string): void {
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#lastId = value;
  }

  #dispatch(): SseMessage | undefined {
    const message = { event: this.#event || 'message', data: this.#data.join('\n'), id: this.#lastId };
    const hasData = this.#data.length > 0;
    this.#event = '';
    this.#data = [];
    return hasData ? message : undefined;
  }
}

/**
 * Reads an event stream body to its end. Errors of the underlying body (a cut connection, an
 * abort) propagate unchanged; stopping the iteration early cancels the body.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    finished = true;
    yield* parser.push(decoder.decode());
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
