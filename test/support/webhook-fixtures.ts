import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isLoopbackHost } from '../../core/net/loopback.ts';
import { DialError, NetDialer, type Dialer } from '../../runner/egress/dialer.ts';

/** One request a {@link WebhookReceiver} got. */
export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as received. */
  body: string;
  /** The answer it got. */
  status: number;
}

/**
 * A webhook receiver on 127.0.0.1 (reached through a `WEBHOOK_INTERNAL_HOSTS` name). Paths:
 * `/flaky/<name>` answers 500 to its first two requests and 204 after; `/fail…` always 500;
 * `/redirect` answers 302 to `/ok`; anything else 204. It records every request.
 */
export interface WebhookReceiver {
  readonly port: number;
  readonly received: Received[];
  /** Requests to `path` so far. */
  at(path: string): Received[];
  /** Waits until `pred` holds for the requests received, or fails after `ms`. */
  waitFor(what: string, pred: (all: Received[]) => boolean, ms?: number): Promise<Received[]>;
  stop(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const path = req.url ?? '/';
    const seen = received.filter((r) => r.path === path).length;
    const status = path.startsWith('/fail') || (path.startsWith('/flaky') && seen < 2) ? 500 : path === '/redirect' ? 302 : 204;
    received.push({ path, headers: req.headers, body, status });
    if (status === 302) res.setHeader('location', '/ok');
    res.writeHead(status).end();
  });
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const at = (path: string) => received.filter((r) => r.path === path);
  return {
    port: (server.address() as AddressInfo).port,
    received,
    at,
    waitFor: async (what, pred, ms = 20_000) => {
      const deadline = Date.now() + ms;
      while (!pred(received)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(received.map((r) => [r.path, r.status]))}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return received;
    },
    stop: () => new Promise((r) => { server.close(() => r()); for (const s of sockets) s.destroy(); }),
  };
}

/**
 * A dialer that records every address it is asked to dial and connects to loopback only: any
 * other address is refused right here, as the egress test guard would, before a socket exists.
 */
export class RecordingDialer implements Dialer {
  readonly dialled: string[] = [];
  private readonly inner = new NetDialer({ testGuard: true });

  dial(address: string, port: number, timeoutMs: number): Promise<Socket> {
    this.dialled.push(address);
    if (!isLoopbackHost(address)) return Promise.reject(new DialError('guard', `test dialer: ${address} is not loopback`));
    return this.inner.dial(address, port, timeoutMs);
  }
}

type Verify = (secret: string, header: unknown, rawBody: string, toleranceSec?: number) => boolean;

/**
 * The signature check exactly as README.md documents it: the code block between the
 * `webhook-verify` markers, loaded as a module.
 */
export async function readmeVerifier(): Promise<Verify> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const block = /<!-- webhook-verify:begin -->\s*```js\n([\s\S]*?)```\s*<!-- webhook-verify:end -->/.exec(readme);
  if (!block) throw new Error('README.md has no webhook-verify block');
  const mod = (await import(`data:text/javascript,${encodeURIComponent(block[1]!)}`)) as { verifyBuntimeSignature?: Verify };
  if (typeof mod.verifyBuntimeSignature !== 'function') throw new Error('the README block exports no verifyBuntimeSignature');
  return mod.verifyBuntimeSignature;
}
