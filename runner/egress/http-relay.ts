import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { ExchangeRecord } from './exchange-record.ts';
import { forwardable, upstreamRequestHeaders } from './headers.ts';
import { isRefusal, refusal, sendRefusal, type Refusal } from './refusals.ts';
import type { EgressSession } from './session.ts';
import { formatTarget, parseAuthority, parseHttpTarget, sameAuthority } from './target.ts';
import { openUpstream, type Upstream, type UpstreamDeps } from './upstream.ts';

const TARGET_MESSAGES = {
  https_without_connect: 'https:// URLs must go through a CONNECT tunnel (use a client that supports HTTPS proxies, e.g. fetch or curl; busybox wget does not)',
  not_absolute: 'this is a forward proxy: the request line needs an absolute http:// URL',
  unsupported_scheme: 'only http:// URLs (and CONNECT tunnels) are proxied',
  bad_target: 'the request URL has no valid host and port',
} as const;

/**
 * Relays one absolute-URI plain-HTTP request: checks it (per request, so each request of a
 * keep-alive connection is judged on its own), dials a fresh upstream connection, streams the
 * request body up and the response back. Malformed targets close the client connection; policy
 * refusals keep it open for the next request.
 */
export async function relayHttp(deps: UpstreamDeps, session: EgressSession, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const record = new ExchangeRecord(session, req.method ?? 'GET');
  const target = parseHttpTarget(req.url ?? '');
  if (typeof target === 'string') return refuse(res, record, refusal(target, TARGET_MESSAGES[target]), true);
  record.target(target);
  const host = req.headers.host === undefined ? undefined : parseAuthority(req.headers.host, 80);
  if (host === null || (host && !sameAuthority(host, target))) {
    return refuse(res, record, refusal('host_mismatch', `the Host header does not name ${formatTarget(target)}, the URL's host`), true);
  }
  const upstream = await openUpstream(deps, session, target);
  if (isRefusal(upstream)) return refuse(res, record, upstream, false);
  if (res.destroyed || req.socket.destroyed) {
    upstream.socket.destroy();
    return record.finish(upstream);
  }
  forward({ req, res }, upstream, { path: target.path, authority: formatTarget(target) }, record);
}

function refuse(res: ServerResponse, record: ExchangeRecord, r: Refusal, close: boolean): void {
  record.finish({ refusal: r });
  if (!res.headersSent && !res.destroyed) sendRefusal(res, r, close);
}

function forward(
  { req, res }: { req: IncomingMessage; res: ServerResponse }, up: Upstream, to: { path: string; authority: string }, record: ExchangeRecord,
): void {
  const { path, authority } = to;
  const { socket } = up;
  socket.once('close', () => record.finish(up));
  // The client connection is not idle while its response is pending, however slow the upstream.
  res.on('timeout', () => {});
  res.once('close', () => socket.destroy());
  const upReq = request({
    createConnection: () => socket,
    method: req.method,
    path,
    headers: upstreamRequestHeaders(req, authority),
    setHost: false,
  });
  upReq.once('response', (upRes) => {
    try {
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, forwardable(upRes.rawHeaders));
    } catch {
      // A status line or header node refuses to write: a broken upstream must not crash the runner.
      return void res.destroy();
    }
    upRes.pipe(res);
    upRes.once('error', () => res.destroy());
  });
  upReq.once('error', () => {
    if (!res.headersSent) sendRefusal(res, refusal('connect_failed', `the upstream ${authority} broke off`), true);
    else res.destroy();
  });
  req.pipe(upReq);
}
