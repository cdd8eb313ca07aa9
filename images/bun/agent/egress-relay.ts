/**
 * The egress relay: the HTTP(S) proxy user programs see on the container's loopback
 * (`127.0.0.1:3128`). It parses nothing: each client connection is joined, bytes only, to a
 * fresh data-channel connection of kind `egress`, and the runner's policy proxy speaks HTTP on
 * the other end (judges every request, dials, relays). User programs never touch the data
 * socket itself (its directory is root-only); this relay is the only way their bytes reach it.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { EGRESS_PROXY_PORT } from './user-env.ts';
import type { DataChannel } from './data-channel.ts';

/**
 * Client connections relayed at once at most. Each holds two descriptors of the agent (the
 * client and its data connection); the runner's own cap per session is lower, so this only
 * keeps a connection flood from taking the agent's descriptors.
 */
export const MAX_RELAYED = 512;

/** The answer when a connection cannot be relayed (the runner is away, or too many are open). */
function unavailable(reason: string, message: string): string {
  const body = `${reason}: ${message}\n`;
  return 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n'
    + `Content-Length: ${Buffer.byteLength(body)}\r\nX-Buntime-Egress: ${reason}\r\nConnection: close\r\n\r\n${body}`;
}

export interface EgressRelayOptions {
  /** Port on 127.0.0.1 (default {@link EGRESS_PROXY_PORT}; 0 picks one, for tests). */
  port?: number;
  /** Client connections relayed at once at most (default {@link MAX_RELAYED}). */
  maxConnections?: number;
}

export class EgressRelay {
  private server: Server | undefined;
  private open = 0;

  constructor(private readonly data: DataChannel, private readonly o: EgressRelayOptions = {}) {}

  /** Starts listening on 127.0.0.1; resolves with the port. */
  start(): Promise<number> {
    // Not half-open: a client's end is taken as its close (see relay()).
    const server = createServer({ allowHalfOpen: false }, (client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port ?? EGRESS_PROXY_PORT, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  /** Connections being relayed now. */
  get connections(): number {
    return this.open;
  }

  stop(): void {
    this.server?.close();
  }

  private accept(client: Socket): void {
    client.on('error', () => client.destroy());
    if (this.open >= (this.o.maxConnections ?? MAX_RELAYED)) {
      client.end(unavailable('relay_limit', 'too many proxy connections open in this session'));
      return;
    }
    this.open++;
    client.once('close', () => this.open--);
    // A relay forwards segments as they come: Nagle would hold small ones (TLS handshakes).
    client.setNoDelay(true);
    // Until joined, the client's bytes wait in its socket (nothing reads it yet).
    this.data.open({ kind: 'egress' }).then((channel) => {
      if (client.destroyed) return void channel.destroy();
      relay(client, channel);
    }, () => {
      if (!client.destroyed) client.end(unavailable('relay_unavailable', 'the egress proxy cannot be reached; retry'));
    });
  }
}

/**
 * Pipes a client connection and its data connection both ways. A client's end is taken as its
 * close, as Squid does by default: a program that exited and one that only shut down its sending
 * side look the same from here, and the first must not leave its tunnel (and the upstream slot)
 * open for as long as the upstream stays quiet (a WebSocket, a stream). So a gone client takes
 * the data connection with it, and the runner closes the upstream and logs the exchange. When
 * the runner's end goes, the client gets what was sent, an end, then a close.
 */
function relay(client: Socket, channel: Socket): void {
  client.pipe(channel);
  channel.pipe(client);
  channel.on('error', () => channel.destroy());
  client.once('close', () => channel.destroy());
  channel.once('close', () => {
    if (client.destroyed) return;
    if (client.writableFinished) return void client.destroy();
    client.once('finish', () => client.destroy());
    if (!client.writableEnded) client.end();
  });
}
