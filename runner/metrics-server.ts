import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { metricsAllowed } from '../core/metrics.ts';
import { isLoopbackHost } from '../core/net/loopback.ts';

export interface MetricsServerOptions {
  registry: Registry;
  /** `METRICS_HOST`. */
  host: string;
  /** `METRICS_PORT`; 0 picks a free port. */
  port: number;
  /** `METRICS_TOKEN`; the config requires one when `host` is not loopback. */
  token: string | undefined;
}

/** The node's own metrics listener: `GET /metrics` and nothing else. */
export class MetricsServer {
  private server: Server | undefined;

  constructor(private readonly o: MetricsServerOptions) {}

  /** Listens; resolves with the scrape URL (`http://host:port/metrics`). */
  async start(): Promise<string> {
    const open = isLoopbackHost(this.o.host);
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      if (!metricsAllowed(req.headers.authorization, this.o.token, open)) {
        res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('unauthorized\n');
        return;
      }
      this.o.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.o.registry.contentType, 'cache-control': 'no-store' }).end(text),
        () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
      );
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.o.port;
    const host = this.o.host.includes(':') ? `[${this.o.host}]` : this.o.host;
    return `http://${host}:${port}/metrics`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
