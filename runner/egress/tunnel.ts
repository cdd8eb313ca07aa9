import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { ExchangeRecord } from './exchange-record.ts';
import { isRefusal, rawRefusal, refusal, type Refusal } from './refusals.ts';
import type { EgressSession } from './session.ts';
import { formatTarget, parseAuthority, sameAuthority } from './target.ts';
import { openUpstream, type UpstreamDeps } from './upstream.ts';

/**
 * Serves `CONNECT host:port`: checks the target, dials it and splices raw bytes both ways (TLS
 * stays end to end; nothing is intercepted). A refusal is an HTTP error response (403 for
 * policy), which clients such as Bun's fetch report as a tunnel error; the connection then closes.
 */
export async function openTunnel(deps: UpstreamDeps, session: EgressSession, req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
  const record = new ExchangeRecord(session, 'CONNECT');
  // A tunnel may idle for long (a WebSocket); it lives as long as both ends do.
  client.setTimeout(0);
  client.on('error', () => client.destroy());
  const target = parseAuthority(req.url ?? '', 443, true);
  if (!target) return refuse(client, record, refusal('bad_target', 'CONNECT needs host:port'));
  record.target(target);
  const host = req.headers.host === undefined ? undefined : parseAuthority(req.headers.host, target.port);
  if (host === null || (host && !sameAuthority(host, target))) {
    return refuse(client, record, refusal('host_mismatch', `the Host header does not name ${formatTarget(target)}, the CONNECT target`));
  }
  const upstream = await openUpstream(deps, session, target);
  if (isRefusal(upstream)) return refuse(client, record, upstream);
  const { socket } = upstream;
  socket.once('close', () => record.finish(upstream));
  if (client.destroyed) {
    socket.destroy();
    return;
  }
  splice(client, socket, head);
}

function refuse(client: Socket, record: ExchangeRecord, r: Refusal): void {
  record.finish({ refusal: r });
  if (!client.destroyed) client.end(rawRefusal(r));
}

function splice(client: Socket, upstream: Socket, head: Buffer): void {
  upstream.on('error', () => upstream.destroy());
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length > 0) upstream.write(head);
  client.pipe(upstream);
  upstream.pipe(client);
  client.once('close', () => upstream.destroy());
  // The agent ends a data connection only when its client is gone (it takes a client's end as
  // its close), so the end is passed on and then the upstream is closed: a quiet upstream (a
  // WebSocket) would otherwise hold the tunnel, and its slot, for as long as it stays open.
  client.once('end', () => {
    if (upstream.writableFinished) upstream.destroy();
    else upstream.once('finish', () => upstream.destroy());
  });
  // A clean upstream close lets the client drain what is still buffered (pipe ends it).
  upstream.once('close', (hadError) => (hadError ? client.destroy() : client.end()));
}
