import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { InternalHost } from '../../core/internal-hosts.ts';
import type { Dialer } from './dialer.ts';
import { ExchangeRecord } from './exchange-record.ts';
import { EgressGate } from './gate.ts';
import { relayHttp } from './http-relay.ts';
import { rawRefusal, refusal } from './refusals.ts';
import type { NameResolver } from './resolver.ts';
import type { EgressSession } from './session.ts';
import { ConnectionSlots } from './slots.ts';
import { openTunnel } from './tunnel.ts';
import type { UpstreamDeps } from './upstream.ts';

/** Options of {@link EgressProxy}; `createEgressProxy` builds them from the config. */
export interface EgressProxyOptions {
  readonly resolver: NameResolver;
  readonly dialer: Dialer;
  /** `EGRESS_INTERNAL_HOSTS`. */
  readonly internalHosts: readonly InternalHost[];
  /** Upstream connections per session (`EGRESS_MAX_CONNECTIONS_PER_SESSION`, 64); client connections: twice that. */
  readonly maxConnectionsPerSession: number;
  /** Upstream connections, and client connections, per node (`EGRESS_MAX_CONNECTIONS_PER_NODE`). */
  readonly maxConnectionsPerNode: number;
  /** Upstream TCP connect deadline, ms (`EGRESS_CONNECT_TIMEOUT_MS`, 10 000). */
  readonly connectTimeoutMs: number;
  /** A client connection with no request in flight for this long is closed, ms (default 120 000). */
  readonly clientIdleTimeoutMs?: number;
}

/** Connections open now. */
export interface EgressConnections {
  /** Client connections being served (one per agent-side connection). */
  readonly client: number;
  /** Upstream connections: CONNECT tunnels and plain requests in flight. */
  readonly upstream: number;
}

/**
 * The runner's egress policy proxy: an HTTP forward proxy (absolute-URI plain HTTP and CONNECT
 * tunnels) fed with client connections that the agent of a session relays. Node's HTTP server
 * machinery parses (llhttp: keep-alive, pipelining); every request and tunnel is judged against
 * the session's policy on its own, then relayed to exactly the addresses the gate checked.
 */
export class EgressProxy {
  private readonly server: Server;
  private readonly deps: UpstreamDeps;
  private readonly clientSlots: ConnectionSlots;
  private readonly sessionOf = new WeakMap<Socket, EgressSession>();
  private readonly openSockets = new Map<string, Set<Socket>>();

  constructor(opts: EgressProxyOptions) {
    const upstreamSlots = new ConnectionSlots(opts.maxConnectionsPerSession, opts.maxConnectionsPerNode);
    this.clientSlots = new ConnectionSlots(opts.maxConnectionsPerSession * 2, opts.maxConnectionsPerNode);
    this.deps = { gate: new EgressGate(opts.resolver, opts.internalHosts), dialer: opts.dialer, slots: upstreamSlots, connectTimeoutMs: opts.connectTimeoutMs };
    // requireHostHeader off: the proxy checks Host against the URL itself (and adds it if absent).
    this.server = createServer({ requireHostHeader: false, requestTimeout: 0, keepAliveTimeout: 30_000 });
    this.server.timeout = opts.clientIdleTimeoutMs ?? 120_000;
    this.server.on('request', (req, res) => {
      const session = this.sessionOf.get(req.socket);
      // A throw here is a bug; it costs the one exchange, never the runner.
      if (session) relayHttp(this.deps, session, req, res).catch(() => res.destroy());
      else res.destroy();
    });
    this.server.on('connect', (req, socket: Socket, head: Buffer) => {
      const session = this.sessionOf.get(socket);
      if (session) openTunnel(this.deps, session, req, socket, head).catch(() => socket.destroy());
      else socket.destroy();
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.clientError(err, socket));
  }

  /**
   * Serves one client connection of `session`: the raw bytes a program sent to the agent's
   * proxy port, positioned at the first byte of the first request (bytes read past the data
   * channel's header line must be `unshift`ed back first). Returns at once; the proxy owns and
   * closes the socket. Over the client-connection cap it answers 503 `connection_limit` and closes.
   */
  serve(socket: Socket, session: EgressSession): void {
    const release = this.clientSlots.take(session.sessionId);
    if (typeof release === 'string') {
      const r = release === 'session'
        ? refusal('connection_limit', `this session already has ${this.clientSlots.perSession} proxy connections open`)
        : refusal('node_connection_limit', 'this node has no proxy connections left; retry later');
      new ExchangeRecord(session, '').finish({ refusal: r });
      socket.on('error', () => socket.destroy());
      socket.end(rawRefusal(r));
      return;
    }
    this.track(session.sessionId, socket);
    socket.once('close', release);
    this.sessionOf.set(socket, session);
    this.server.emit('connection', socket);
  }

  /** Connections open now, of one session or of the whole node. */
  connections(sessionId?: string): EgressConnections {
    return { client: this.clientSlots.count(sessionId), upstream: this.deps.slots.count(sessionId) };
  }

  /** Closes every connection of a session at once (its tunnels included): on delete or pause. */
  closeSession(sessionId: string): void {
    for (const s of this.openSockets.get(sessionId) ?? []) s.destroy();
  }

  /** Closes every connection (runner shutdown). */
  close(): void {
    for (const id of [...this.openSockets.keys()]) this.closeSession(id);
  }

  private track(sessionId: string, socket: Socket): void {
    let set = this.openSockets.get(sessionId);
    if (!set) this.openSockets.set(sessionId, (set = new Set()));
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0 && this.openSockets.get(sessionId) === set) this.openSockets.delete(sessionId);
    });
  }

  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const session = this.sessionOf.get(socket);
    const benign = err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable;
    if (session && !benign) {
      const r = refusal('bad_request', 'the proxy could not parse this request');
      new ExchangeRecord(session, '').finish({ refusal: r });
      socket.end(rawRefusal(r));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    socket.destroy();
  }
}
