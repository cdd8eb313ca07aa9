import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { BuntimeError } from '../core/errors.ts';
import {
  decodeHeaders, encodeHeaders, PREVIEW_HEADERS_HEADER, PREVIEW_METHOD_HEADER, PREVIEW_PATH_HEADER, PREVIEW_STATUS_HEADER,
} from '../core/transfers.ts';
import type { Transfer } from './transfer-hub.ts';

/** How long the session's server may take to start answering, ms. */
const FIRST_BYTE_MS = 30_000;

/**
 * One preview exchange: the request the API received (method, path and headers in its transfer
 * headers, body streamed) is sent to the session's server over `upstream` (a connection the
 * agent relays from inside the session), and the answer streams back on the transfer as it
 * comes — bodies of any size or duration, never buffered. Returns the server's status.
 */
export async function relayPreview(t: Transfer, upstream: Socket): Promise<number> {
  const method = String(t.req.headers[PREVIEW_METHOD_HEADER] ?? 'GET');
  const path = String(t.req.headers[PREVIEW_PATH_HEADER] ?? '/');
  const headers = decodeHeaders(t.req.headers[PREVIEW_HEADERS_HEADER]);
  const out = request({ method, path, headers, createConnection: () => upstream, timeout: FIRST_BYTE_MS });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    out.once('response', resolve);
    out.once('timeout', () => out.destroy(new BuntimeError('gateway_timeout', 'the preview server did not answer in time')));
    out.once('error', (err) => reject(err instanceof BuntimeError ? err : badGateway(err)));
  });
  t.req.pipe(out);
  const res = await answered;
  out.setTimeout(0);
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
