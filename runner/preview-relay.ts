import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { BuntimeError } from '../core/errors.ts';
import {
  decodeHeaders, encodeHeaders, PREVIEW_HEADERS_HEADER, PREVIEW_METHOD_HEADER, PREVIEW_PATH_HEADER, PREVIEW_STATUS_HEADER,
} from '../core/transfers.ts';
import type { Transfer } from './transfer-hub.ts';

/**
 * One preview exchange: the request the API received (method, path and headers in its transfer
 * headers, body streamed) is sent to the session's server over `upstream` (a connection the
 * agent relays from inside the session), and the answer streams back on the transfer as it
 * comes — bodies of any size, never buffered, for as long as the job's deadline allows. A server
 * that has not started answering after `firstByteMs` is a 504, one that closes the connection
 * without an answer a 502. Returns the server's status.
 */
export async function relayPreview(t: Transfer, upstream: Socket, firstByteMs: number): Promise<number> {
  const method = String(t.req.headers[PREVIEW_METHOD_HEADER] ?? 'GET');
  const path = String(t.req.headers[PREVIEW_PATH_HEADER] ?? '/');
  const headers = decodeHeaders(t.req.headers[PREVIEW_HEADERS_HEADER]);
  const out = request({ method, path, headers, createConnection: () => upstream });
  // A timer of our own: http.request's `timeout` option never arms on a socket handed over
  // already connected (it waits for a 'connect' event that has long passed).
  const timer = setTimeout(() => out.destroy(new BuntimeError('gateway_timeout', 'the preview server did not answer in time')), firstByteMs);
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    out.once('response', resolve);
    out.once('error', (err) => reject(err instanceof BuntimeError ? err : badGateway(err)));
  });
  t.req.pipe(out);
  const res = await answered.finally(() => clearTimeout(timer));
  t.res.writeHead(200, {
    [PREVIEW_STATUS_HEADER]: String(res.statusCode ?? 502),
    [PREVIEW_HEADERS_HEADER]: encodeHeaders(res.headers),
  });
  // The client of the API went away: stop reading from the session's server.
  t.res.once('close', () => { if (!res.complete) res.destroy(); });
  await pipeline(res, t.res).catch(() => undefined);
  upstream.destroy();
  return res.statusCode ?? 502;
}

function badGateway(cause: unknown): BuntimeError {
  return new BuntimeError('bad_gateway', 'the session\'s server closed the connection without an answer', { cause });
}
