import type { EgressLogEntry } from '../../core/egress-log.ts';
import type { EgressPolicy } from '../../core/network-policy.ts';

/** What the proxy needs to know about the session a client connection belongs to. */
export interface EgressSession {
  readonly sessionId: string;
  /** The owning account (for the caller's byte counters; the proxy only passes it along). */
  readonly account: string;
  /** The session's effective policy (`effectivePolicy`); read per request, so it may change. */
  readonly policy: EgressPolicy;
  /**
   * Called once per plain-HTTP request and once per CONNECT tunnel, when it ends (refusals
   * included). Must not throw; slow work belongs off this call (fire and forget).
   */
  readonly onLog: (entry: EgressLogEntry, session: EgressSession) => void;
}
