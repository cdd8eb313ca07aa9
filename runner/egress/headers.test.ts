import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { forwardable, upstreamRequestHeaders } from './headers.ts';

describe('forwardable', () => {
  it('drops hop-by-hop, Proxy-* and Connection-named headers, keeping case and repeats', () => {
    const raw = [
      'Host', 'a.test', 'Connection', 'keep-alive, X-Secret', 'Keep-Alive', 'timeout=5', 'Proxy-Connection', 'Keep-Alive',
      'Proxy-Authorization', 'Basic eA==', 'X-Secret', '1', 'TE', 'trailers', 'Upgrade', 'websocket',
      'Transfer-Encoding', 'chunked', 'Expect', '100-continue', 'Accept', 'a', 'Set-Cookie', 'x=1', 'Set-Cookie', 'y=2',
      'Proxy-Anything', 'z',
    ];
    expect(forwardable(raw)).toEqual(['Host', 'a.test', 'Accept', 'a', 'Set-Cookie', 'x=1', 'Set-Cookie', 'y=2']);
  });
});

describe('upstreamRequestHeaders', () => {
  const req = (rawHeaders: string[]) => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] = rawHeaders[i + 1]!;
    return { rawHeaders, headers } as unknown as IncomingMessage;
  };

  it('adds Host from the target when missing', () => {
    expect(upstreamRequestHeaders(req(['Accept', '*/*']), 'a.test:8080')).toEqual(['Host', 'a.test:8080', 'Accept', '*/*']);
  });

  it('re-frames a chunked body as chunked, leaves a sized body alone', () => {
    expect(upstreamRequestHeaders(req(['Host', 'a.test', 'Transfer-Encoding', 'chunked']), 'a.test')).toEqual(['Host', 'a.test', 'Transfer-Encoding', 'chunked']);
    expect(upstreamRequestHeaders(req(['Host', 'a.test', 'Content-Length', '3']), 'a.test')).toEqual(['Host', 'a.test', 'Content-Length', '3']);
  });
});
