import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { EgressLog, EgressLogEntry } from '../core/egress-log.ts';
import { createLogger } from '../core/logger.ts';
import { NO_EGRESS, type EgressPolicy } from '../core/network-policy.ts';
import type { DataPort } from './data-port.ts';
import type { EgressProxy, EgressSession } from './egress/index.ts';
import { registryHosts, SessionEgress } from './session-egress.ts';

const allowlist: EgressPolicy = { egress: 'allowlist', allow: ['example.org'], deny: [], ports: [80, 443] };
const entry: EgressLogEntry = {
  at: '2026-01-01T00:00:00.000Z', method: 'GET', host: 'example.org', port: 80, address: null,
  decision: 'denied', reason: 'not_allowlisted', bytesIn: 0, bytesOut: 0, durationMs: 0,
};

function wiring() {
  const served: Array<{ socket: Socket; session: EgressSession }> = [];
  const closed: string[] = [];
  const recorded: Array<[string, EgressLogEntry, string | undefined]> = [];
  const cleared: string[] = [];
  const proxy = {
    serve: (socket: Socket, session: EgressSession) => served.push({ socket, session }),
    closeSession: (id: string) => closed.push(id),
    connections: () => ({ client: 1, upstream: 2 }),
    close: () => {},
  } as unknown as EgressProxy;
  const log = {
    record: async (id: string, e: EgressLogEntry, account?: string) => { recorded.push([id, e, account]); },
    clear: async (id: string) => { cleared.push(id); },
  } as unknown as EgressLog;
  const egress = new SessionEgress({
    proxy, dialerStats: { dials: 3, guardRefusals: 0 }, log, implicitHosts: ['registry.example.net'], logger: createLogger('silent'),
  });
  let handler: ((s: Socket) => void) | undefined;
  const port = { handleEgress: (h: (s: Socket) => void) => { handler = h; } } as unknown as DataPort;
  return { egress, port, served, closed, recorded, cleared, connect: (s: Socket) => handler!(s) };
}

describe('SessionEgress', () => {
  it('serves a port\'s egress connections with the session\'s policy, the registry implicitly allowed', () => {
    const w = wiring();
    w.egress.route(w.port, { sessionId: 'ses_a', account: 'acct', network: allowlist });
    const socket = {} as Socket;
    w.connect(socket);
    expect(w.served).toHaveLength(1);
    expect(w.served[0]!.socket).toBe(socket);
    expect(w.served[0]!.session).toMatchObject({ sessionId: 'ses_a', account: 'acct' });
    expect(w.served[0]!.session.policy.allow).toEqual(['example.org', 'registry.example.net']);
  });

  it('a session with no egress gets none, registry or not', () => {
    const w = wiring();
    w.egress.route(w.port, { sessionId: 'ses_b', account: 'acct', network: NO_EGRESS });
    w.connect({} as Socket);
    expect(w.served[0]!.session.policy).toBe(NO_EGRESS);
  });

  it('logs entries under the session and its account; closes and forgets sessions; reports counters', async () => {
    const w = wiring();
    w.egress.route(w.port, { sessionId: 'ses_c', account: 'acct', network: allowlist });
    w.connect({} as Socket);
    const session = w.served[0]!.session;
    session.onLog(entry, session);
    expect(w.recorded).toEqual([['ses_c', entry, 'acct']]);
    w.egress.close('ses_c');
    await w.egress.forget('ses_d');
    expect(w.closed).toEqual(['ses_c', 'ses_d']);
    expect(w.cleared).toEqual(['ses_d']);
    expect(w.egress.stats()).toEqual({ dials: 3, guardRefusals: 0, client: 1, upstream: 2 });
  });
});

describe('registryHosts', () => {
  it('is the registry URL\'s host, or nothing', () => {
    expect(registryHosts(undefined)).toEqual([]);
    expect(registryHosts('http://Mirror.Internal:4873/npm/')).toEqual(['mirror.internal']);
  });
});
