import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** A complete response as read through the proxy. */
export interface ProxiedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** True when the request went over a connection the agent had used before (keep-alive). */
  reusedSocket: boolean;
}

/** `http.request` in proxy form: the absolute URL as the request target, sent to the proxy. */
export function proxiedRequest(
  proxyUrl: string,
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string; agent?: Agent } = {},
): Promise<ProxiedResponse> {
  const proxy = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = request({
      host: proxy.hostname, port: Number(proxy.port), method: opts.method ?? 'GET', path: url,
      headers: { host: new URL(url).host, ...opts.headers }, agent: opts.agent,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The status line and head of a CONNECT answer, and the socket (open when the tunnel is). */
export interface ConnectResult {
  status: number;
  head: string;
  socket: Socket;
}

/** Sends `CONNECT authority` (with a Host header, unless `host` is null) and reads the answer's head. */
export function proxyConnect(proxyUrl: string, authority: string, host: string | null = authority): Promise<ConnectResult> {
  const proxy = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(proxy.port), proxy.hostname);
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const head = buf.subarray(0, end).toString();
      const rest = buf.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, socket });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.write(`CONNECT ${authority} HTTP/1.1\r\n${host === null ? '' : `Host: ${host}\r\n`}\r\n`);
  });
}

/** Reads everything until the peer closes (or `ms` pass). */
export function readAll(socket: Socket, ms = 5000): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, ms);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('close', done);
    socket.resume();
  });
}

/** An HTTPS GET through an open CONNECT tunnel, trusting `ca`; the whole response as text. */
export async function httpsOverTunnel(tunnel: Socket, servername: string, ca: string, path: string): Promise<string> {
  const tls = tlsConnect({ socket: tunnel, servername, ca });
  await new Promise<void>((resolve, reject) => {
    tls.once('secureConnect', resolve);
    tls.once('error', reject);
  });
  tls.write(`GET ${path} HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
  return (await readAll(tls as unknown as Socket)).toString();
}

/** Writes raw bytes to the proxy and reads until it closes or `ms` pass. */
export async function rawExchange(proxyUrl: string, bytes: string, ms = 5000): Promise<string> {
  const proxy = new URL(proxyUrl);
  const socket = connect(Number(proxy.port), proxy.hostname);
  socket.on('error', () => {});
  socket.write(bytes);
  return (await readAll(socket, ms)).toString();
}
