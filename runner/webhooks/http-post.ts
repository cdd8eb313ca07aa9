import { request } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

/** One POST over a connection already open to a checked address. */
export interface PostRequest {
  /** Connected to exactly the address the policy checked; this function owns and closes it. */
  socket: Socket;
  /** Wrap the connection in TLS, verifying the certificate for `host`. */
  tls: boolean;
  /** Host name or IP literal (IPv6 bare): the certificate's name and, with `port`, the `Host` header. */
  host: string;
  /** `Host` header value as the URL wrote it (name and port). */
  hostHeader: string;
  /** Path and query. */
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Deadline of the whole exchange (TLS, request, response headers), ms. */
  timeoutMs: number;
  /** Certificates to trust instead of the system's (tests with a self-signed receiver). */
  ca?: string;
}

export class PostError extends Error {
  constructor(readonly failure: 'timeout' | 'tls' | 'failed', message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'PostError';
  }
}

/**
 * Sends one POST and resolves with the response status as soon as its headers arrive; the
 * response body is never read and redirects are never followed (a 3xx is just a status). The
 * connection is closed afterwards in every case.
 *
 * @throws PostError
 */
export async function postOnce(r: PostRequest): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  let conn: Socket | TLSSocket = r.socket;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PostError('timeout', `no answer within ${r.timeoutMs} ms`)), r.timeoutMs);
  });
  try {
    return await Promise.race([deadline, (async () => {
      if (r.tls) conn = await secure(r);
      return exchange(r, conn);
    })()]);
  } finally {
    clearTimeout(timer);
    conn.destroy();
    r.socket.destroy();
  }
}

function secure(r: PostRequest): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    // SNI takes names only; an IP literal is checked against the certificate's IP entries.
    const socket = tlsConnect({ socket: r.socket, host: r.host, servername: isIP(r.host) ? undefined : r.host, ALPNProtocols: ['http/1.1'], ca: r.ca });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', (err) => reject(new PostError('tls', `TLS with ${r.host} failed: ${err.message}`, err)));
  });
}

function exchange(r: PostRequest, conn: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      method: 'POST', path: r.path, createConnection: () => conn,
      headers: { ...r.headers, host: r.hostHeader, 'content-length': String(Buffer.byteLength(r.body)), connection: 'close' },
    });
    req.once('response', (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.once('error', (err) => reject(new PostError('failed', `request failed: ${err.message}`, err)));
    req.end(r.body);
  });
}
