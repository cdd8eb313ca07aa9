import type { EgressLog, EgressLogEntry } from '../core/egress-log.ts';
import type { Logger } from '../core/logger.ts';
import { allowImplicitly, type EgressPolicy } from '../core/network-policy.ts';
import type { SessionRecord } from '../core/session-store.ts';
import type { DataPort } from './data-port.ts';
import type { DialerStats, EgressConnections, EgressProxy, EgressSession } from './egress/index.ts';

export interface SessionEgressOptions {
  /** The node's one egress proxy (`createEgressProxy`). */
  proxy: EgressProxy;
  /** Its dialer's counters. */
  dialerStats: DialerStats;
  log: EgressLog;
  /**
   * Names every allowlist admits too: the host of `NPM_REGISTRY_URL`, so that packages install
   * under any allowlist (see {@link registryHosts}).
   */
  implicitHosts: readonly string[];
  logger: Logger;
}

/** Counters of a node's egress, for tests and diagnostics. */
export interface EgressStats extends DialerStats, EgressConnections {}

/**
 * Joins sessions to the node's egress proxy: each session's data port hands its egress
 * connections to `proxy.serve()` with the session's policy (from its record) and a log sink
 * that writes the session's egress log and the account's byte counters.
 */
export class SessionEgress {
  constructor(private readonly o: SessionEgressOptions) {}

  /** Routes the egress connections of `port` for the session of `rec` from now on. */
  route(port: DataPort, rec: Pick<SessionRecord, 'sessionId' | 'account' | 'network'>): void {
    const session = this.session(rec.sessionId, rec.account, allowImplicitly(rec.network, this.o.implicitHosts));
    port.handleEgress((socket) => this.o.proxy.serve(socket, session));
  }

  /** Ends every egress connection of a session (its sandbox is paused, put to sleep or gone). */
  close(sessionId: string): void {
    this.o.proxy.closeSession(sessionId);
  }

  /** Ends a deleted session's connections and drops its log. */
  async forget(sessionId: string): Promise<void> {
    this.close(sessionId);
    await this.o.log.clear(sessionId);
  }

  stats(): EgressStats {
    return { ...this.o.dialerStats, ...this.o.proxy.connections() };
  }

  /** Closes every connection (runner shutdown). */
  stop(): void {
    this.o.proxy.close();
  }

  private session(sessionId: string, account: string, policy: EgressPolicy): EgressSession {
    const { log, logger } = this.o;
    return {
      sessionId, account, policy,
      // Fire and forget: the proxy's exchange is over; a lost entry is logged, never thrown.
      onLog: (entry: EgressLogEntry) => {
        log.record(sessionId, entry, account).catch((err: unknown) => logger.warn({ err, sessionId }, 'egress log entry lost'));
      },
    };
  }
}

/** The host of a registry URL (lower case), as the names an allowlist admits implicitly; none when unset. */
export function registryHosts(registryUrl: string | undefined): string[] {
  if (!registryUrl) return [];
  return [new URL(registryUrl).hostname.toLowerCase()];
}
