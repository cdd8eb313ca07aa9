import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

/**
 * Upstreams for egress tests, all on 127.0.0.1 with ephemeral ports, reached through the proxy
 * by internal-host names (EGRESS_INTERNAL_HOSTS, e.g. `fixture.test=127.0.0.1`):
 *
 * - `http`: `/hello` ("hello from fixture\n"), `/big` (the 5 MB {@link bigBody}), `/mb` (its
 *   first MiB), `/slow` (a line every 200 ms, never ending), `/echo` (the request as JSON: method,
 *   url, headers, body length), `/ws` (a WebSocket upgrade that sends one text message, "hello over websocket",
 *   then echoes nothing), anything else 404.
 * - `https`: the same routes over TLS with a self-signed certificate made at start for
 *   `tlsNames` (and 127.0.0.1); `pem` is the certificate clients must trust.
 * - `registry`: an npm registry serving one generated package, {@link FIXTURE_PACKAGE} 1.0.0
 *   (packument at `/<name>`, tarball at `/<name>/-/<name>-1.0.0.tgz`, sha512 integrity); the
 *   tarball URL is built from the request's Host header, so it names whatever host the client
 *   used (the internal name through the proxy).
 *
 * Every server counts the requests it answered per path (`hits`).
 */
export interface EgressFixtures {
  readonly http: FixtureServer;
  readonly https: FixtureServer & { readonly pem: string };
  readonly registry: FixtureServer & { readonly tarball: Buffer; readonly integrity: string };
  stop(): Promise<void>;
}

export interface FixtureServer {
  readonly port: number;
  /** Requests answered, by path. */
  readonly hits: Map<string, number>;
  /** TCP connections accepted. */
  connections(): number;
}

/** Name of the package the registry fixture serves. */
export const FIXTURE_PACKAGE = 'buntime-egress-fixture';
export const FIXTURE_VERSION = '1.0.0';
/** What `require(FIXTURE_PACKAGE).greet()` returns. */
export const FIXTURE_GREETING = 'hello from the fixture package';

/** The one message the `/ws` endpoint sends. */
export const WEBSOCKET_GREETING = 'hello over websocket';

const BIG_BYTES = 5 * 1024 * 1024;

/** 5 MiB of deterministic, incompressible-looking bytes (served by `/big`). */
export function bigBody(): Buffer {
  const out = Buffer.allocUnsafe(BIG_BYTES);
  let x = 0x9e3779b9;
  for (let i = 0; i < BIG_BYTES; i++) {
    // xorshift32: cheap, deterministic, no repeating pattern within 5 MiB.
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Starts the three fixtures. @param tlsNames DNS names the HTTPS certificate is valid for. */
export async function startEgressFixtures(tlsNames: string[] = ['fixture.test']): Promise<EgressFixtures> {
  const big = bigBody();
  const dir = await mkdtemp(join(tmpdir(), 'egress-fixtures-'));
  try {
    const { key, cert } = await selfSigned(dir, tlsNames);
    const http = await listen(createServer(), (req, res) => routes(req, res, big));
    const https = await listen(createTlsServer({ key, cert }), (req, res) => routes(req, res, big));
    const pkg = await fixturePackage();
    const registry = await listen(createServer(), (req, res) => registryRoutes(req, res, pkg.tarball, pkg.integrity, pkg.shasum));
    const servers = [http, https, registry];
    return {
      http: http.info,
      https: { ...https.info, pem: cert },
      registry: { ...registry.info, tarball: pkg.tarball, integrity: pkg.integrity },
      stop: async () => {
        await Promise.all(servers.map((s) => s.stop()));
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(server: Server, handler: Handler): Promise<{ info: FixtureServer; stop: () => Promise<void> }> {
  const hits = new Map<string, number>();
  const open = new Set<Duplex>();
  let connections = 0;
  // Raw connections, so that stop() also ends upgraded (WebSocket) ones, which the HTTP server
  // no longer tracks.
  server.on('connection', (s: Duplex) => {
    connections++;
    open.add(s);
    s.on('error', () => {});
    s.on('close', () => open.delete(s));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    hits.set('/ws', (hits.get('/ws') ?? 0) + 1);
    websocketHello(req, socket);
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const stop = () => new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
    for (const s of open) s.destroy();
  });
  return { info: { port, hits, connections: () => connections }, stop };
}

function routes(req: IncomingMessage, res: ServerResponse, big: Buffer): void {
  const path = (req.url ?? '').split('?')[0];
  if (path === '/hello') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from fixture\n');
  if (path === '/big') return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': big.length }).end(big);
  if (path === '/mb') return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1 << 20 }).end(big.subarray(0, 1 << 20));
  if (path === '/slow') return slow(res);
  if (path === '/echo') return echo(req, res);
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}

/** Just enough of RFC 6455 for a client to open, receive one text frame, and be left alone. */
function websocketHello(req: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => {});
  const key = req.headers['sec-websocket-key'];
  if (req.url !== '/ws' || typeof key !== 'string') return void socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  const text = Buffer.from(WEBSOCKET_GREETING);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.write(Buffer.concat([Buffer.from([0x81, text.length]), text]));
  socket.resume();
}

function slow(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/plain' });
  const timer = setInterval(() => res.write('tick\n'), 200);
  res.write('tick\n');
  res.on('close', () => clearInterval(timer));
}

function echo(req: IncomingMessage, res: ServerResponse): void {
  let bytes = 0;
  const hash = createHash('sha256');
  req.on('data', (c: Buffer) => {
    bytes += c.length;
    hash.update(c);
  });
  req.on('end', () => {
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: bytes, bodySha256: hash.digest('hex') });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
}

function registryRoutes(req: IncomingMessage, res: ServerResponse, tarball: Buffer, integrity: string, shasum: string): void {
  const path = decodeURIComponent((req.url ?? '').split('?')[0]!);
  const tgzPath = `/${FIXTURE_PACKAGE}/-/${FIXTURE_PACKAGE}-${FIXTURE_VERSION}.tgz`;
  if (path === `/${FIXTURE_PACKAGE}`) {
    const packument = {
      name: FIXTURE_PACKAGE,
      'dist-tags': { latest: FIXTURE_VERSION },
      modified: '2026-01-01T00:00:00.000Z',
      versions: {
        [FIXTURE_VERSION]: {
          name: FIXTURE_PACKAGE, version: FIXTURE_VERSION, main: 'index.js',
          dist: { tarball: `http://${req.headers.host}${tgzPath}`, integrity, shasum },
        },
      },
    };
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument));
  }
  if (path === tgzPath) return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': tarball.length }).end(tarball);
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
}

/** The package as npm publishes it: a gzipped tar of `package/…`. */
async function fixturePackage(): Promise<{ tarball: Buffer; integrity: string; shasum: string }> {
  const files: Record<string, string> = {
    'package/package.json': JSON.stringify({ name: FIXTURE_PACKAGE, version: FIXTURE_VERSION, main: 'index.js' }, null, 2),
    'package/index.js': `exports.greet = () => ${JSON.stringify(FIXTURE_GREETING)};\n`,
  };
  const tar = pack();
  for (const [name, body] of Object.entries(files)) tar.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const c of tar) chunks.push(c as Buffer);
  const tarball = gzipSync(Buffer.concat(chunks));
  return {
    tarball,
    integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
    shasum: createHash('sha1').update(tarball).digest('hex'),
  };
}

/** A throw-away certificate for `names` and 127.0.0.1 (openssl, EC P-256, one day). */
async function selfSigned(dir: string, names: string[]): Promise<{ key: string; cert: string }> {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const san = [...names.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${names[0] ?? 'fixture.test'}`,
    '-addext', `subjectAltName=${san}`,
  ]);
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8') };
}
