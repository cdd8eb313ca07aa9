import type { Socket } from 'node:net';
import type { EgressLogEntry } from '../../core/egress-log.ts';
import { REFUSALS, type Refusal } from './refusals.ts';
import type { EgressSession } from './session.ts';
import type { Target } from './target.ts';

/** How an exchange ended: refused, or relayed to `address` over `socket`. */
export type Outcome =
  | { readonly refusal: Refusal; readonly via?: string; readonly address?: string; readonly socket?: Socket }
  | { readonly refusal?: undefined; readonly via: string; readonly address: string; readonly socket: Socket };

/**
 * The log entry of one request or tunnel: started on arrival, finished exactly once (a second
 * finish is ignored), handed to the session's `onLog`.
 */
export class ExchangeRecord {
  private readonly startedMs = Date.now();
  private host = '';
  private port = 0;
  private done = false;

  constructor(private readonly session: EgressSession, private readonly method: string) {}

  target(t: Target): void {
    this.host = t.host;
    this.port = t.port;
  }

  finish(outcome: Outcome): void {
    if (this.done) return;
    this.done = true;
    const refused = outcome.refusal;
    const entry: EgressLogEntry = {
      at: new Date(this.startedMs).toISOString(),
      method: this.method,
      host: this.host,
      port: this.port,
      address: outcome.address ?? refused?.address ?? null,
      decision: refused && REFUSALS[refused.reason].policy ? 'denied' : 'allowed',
      reason: refused?.reason ?? outcome.via ?? 'public',
      bytesIn: outcome.socket?.bytesRead ?? 0,
      bytesOut: outcome.socket?.bytesWritten ?? 0,
      durationMs: Date.now() - this.startedMs,
    };
    try {
      this.session.onLog(entry, this.session);
    } catch {
      // A logging callback must not break the relay; the entry is lost, the traffic is not.
    }
  }
}
