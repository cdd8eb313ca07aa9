import type { Socket } from 'node:net';
import { DialError, dialFirst, type Dialer } from './dialer.ts';
import type { EgressGate } from './gate.ts';
import { isRefusal, refusal, type Refusal } from './refusals.ts';
import type { EgressSession } from './session.ts';
import type { ConnectionSlots } from './slots.ts';
import { formatTarget, type Target } from './target.ts';

/** What opening an upstream needs; one per proxy. */
export interface UpstreamDeps {
  readonly gate: EgressGate;
  readonly dialer: Dialer;
  /** Upstream connection slots, per session and per node. */
  readonly slots: ConnectionSlots;
  readonly connectTimeoutMs: number;
}

/** A connected upstream; its slot is released when the socket closes. */
export interface Upstream {
  readonly socket: Socket;
  readonly address: string;
  /** `public`, `allowlist` or `internal`. */
  readonly via: string;
}

/**
 * Policy, slot, addresses, dial — in that order, so a refused name costs no slot and no DNS,
 * and the request over the cap is refused before any DNS. Only addresses the gate checked are
 * dialled.
 */
export async function openUpstream(deps: UpstreamDeps, session: EgressSession, target: Target): Promise<Upstream | Refusal> {
  const admission = deps.gate.admit(session.policy, target);
  if (isRefusal(admission)) return admission;
  const release = deps.slots.take(session.sessionId);
  if (release === 'session') {
    return refusal('connection_limit', `this session already has ${deps.slots.perSession} upstream connections open`);
  }
  if (release === 'node') return refusal('node_connection_limit', 'this node has no upstream connections left; retry later');
  try {
    const addresses = await deps.gate.addresses(target, admission);
    if (isRefusal(addresses)) {
      release();
      return addresses;
    }
    const { socket, address } = await dialFirst(deps.dialer, addresses, admission.dialPort, deps.connectTimeoutMs);
    socket.once('close', release);
    return { socket, address, via: admission.via };
  } catch (err) {
    release();
    return dialRefusal(err, target);
  }
}

function dialRefusal(err: unknown, target: Target): Refusal {
  const where = formatTarget(target);
  if (!(err instanceof DialError)) return refusal('connect_failed', `connecting to ${where} failed`);
  if (err.failure === 'timeout') return refusal('connect_timeout', `connecting to ${where} timed out`);
  if (err.failure === 'guard') return refusal('address_refused', `${where}: ${err.message}`);
  return refusal('connect_failed', `connecting to ${where} failed: ${err.message}`);
}
