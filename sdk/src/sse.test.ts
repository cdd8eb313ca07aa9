import { describe, expect, it } from 'vitest';
import { readSse, SseParser, type SseMessage } from './sse.ts';

function parseAll(...chunks: string[]): SseMessage[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for await (const message of readSse(body)) out.push(message);
  return out;
}

describe('SseParser', () => {
  it('parses id, event and data, and ignores comment lines', () => {
    expect(parseAll(': ping\n\nid: 1\nevent: stdout\ndata: {"data":"a"}\n\n: ping\n\n')).toEqual([
      { id: '1', event: 'stdout', data: '{"data":"a"}' },
    ]);
  });

  it('accepts CRLF, LF and CR line endings, even split across chunks', () => {
    expect(parseAll('id: 1\r\nevent: a\r\ndata: x\r', '\n\r', '\nid: 2\revent: b\rdata: y\r\r')).toEqual([
      { id: '1', event: 'a', data: 'x' },
      { id: '2', event: 'b', data: 'y' },
    ]);
  });

  it('dispatches an event ending in CR CR at once, before the next chunk arrives', () => {
    const parser = new SseParser();
    expect(parser.push('data: a\r\r')).toEqual([{ id: undefined, event: 'message', data: 'a' }]);
    expect(parser.push('\ndata: b\n\n')).toEqual([{ id: undefined, event: 'message', data: 'b' }]);
  });

  it('joins data lines, keeps the id across events, defaults the event type', () => {
    expect(parseAll('id: 7\ndata: one\ndata:two\n\ndata:  three\n\n')).toEqual([
      { id: '7', event: 'message', data: 'one\ntwo' },
      { id: '7', event: 'message', data: ' three' },
    ]);
  });

  it('does not dispatch events without data, nor an unterminated last event', () => {
    expect(parseAll('event: nothing\n\n', 'id: 3\nevent: stdout\ndata: {"da')).toEqual([]);
  });

  it('treats a line without a colon as a field with an empty value', () => {
    expect(parseAll('data\n\n')).toEqual([{ id: undefined, event: 'message', data: '' }]);
  });
});

describe('readSse', () => {
  it('decodes UTF-8 split across chunks', async () => {
    const bytes = new TextEncoder().encode('event: stdout\ndata: {"data":"héllo ✓"}\n\n');
    const chunks = Array.from(bytes, (b) => Uint8Array.of(b));
    expect(await collect(streamOf(chunks))).toEqual([{ id: undefined, event: 'stdout', data: '{"data":"héllo ✓"}' }]);
  });

  it('cancels the body when the consumer stops early', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('data: x\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const message of readSse(body)) {
      expect(message.data).toBe('x');
      break;
    }
    expect(cancelled).toBe(true);
  });
});
