import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EgressLogEntry } from '../../core/egress-log.ts';
import type { InternalHost } from '../../core/internal-hosts.ts';
import type { EgressPolicy } from '../../core/network-policy.ts';
import { NetDialer } from '../../runner/egress/dialer.ts';
import { EgressProxy } from '../../runner/egress/proxy.ts';
import { ResolveError, type NameResolver } from '../../runner/egress/resolver.ts';
import type { EgressSession } from '../../runner/egress/session.ts';

/** A resolver answering from a table (no query ever leaves the process); other names: NXDOMAIN. */
export class TableResolver implements NameResolver {
  readonly asked: string[] = [];

  constructor(private readonly table: Record<string, string[]>) {}

  async resolve(name: string) {
    this.asked.push(name);
    const list = this.table[name];
    if (!list) throw new ResolveError('not_found', name);
    return list.map((address) => ({ address, family: (address.includes(':') ? 6 : 4) as 4 | 6 }));
  }
}

/** The data channel's header line, as the agent writes it before the client's bytes. */
const HEADER = `${JSON.stringify({ kind: 'egress' })}\n`;

/**
 * An egress proxy wired as in a runner, minus the container: `agentUrl` is a TCP listener on
 * 127.0.0.1 standing in for the agent's proxy port; for each client connection it opens a unix
 * socket to the "runner" listener, writes the data channel's header line followed by the
 * client's bytes, and pipes both ways. The runner side reads the header line, puts back what it
 * read past it, and hands the socket to `proxy.serve()`. The dialer runs with the test guard.
 */
export interface ProxyHarness {
  /** `http://127.0.0.1:<port>`: what HTTP(S)_PROXY points at. */
  readonly agentUrl: string;
  readonly proxy: EgressProxy;
  readonly dialer: NetDialer;
  /** Every log entry, in the order written. */
  readonly logs: EgressLogEntry[];
  /** The session every connection belongs to; its policy may be changed between requests. */
  policy: EgressPolicy;
  readonly sessionId: string;
  stop(): Promise<void>;
}

export interface ProxyHarnessOptions {
  internalHosts: InternalHost[];
  resolver?: NameResolver;
  policy?: EgressPolicy;
  maxConnectionsPerSession?: number;
  maxConnectionsPerNode?: number;
  sessionId?: string;
}

export const PUBLIC_POLICY: EgressPolicy = Object.freeze({ egress: 'public', allow: [], deny: [], ports: [80, 443] });

export async function startProxyHarness(opts: ProxyHarnessOptions): Promise<ProxyHarness> {
  const dialer = new NetDialer({ testGuard: true });
  const proxy = new EgressProxy({
    resolver: opts.resolver ?? new TableResolver({}), dialer, internalHosts: opts.internalHosts,
    maxConnectionsPerSession: opts.maxConnectionsPerSession ?? 64, maxConnectionsPerNode: opts.maxConnectionsPerNode ?? 1000,
    connectTimeoutMs: 5000,
  });
  const logs: EgressLogEntry[] = [];
  const harness = {
    agentUrl: '', proxy, dialer, logs, policy: opts.policy ?? PUBLIC_POLICY, sessionId: opts.sessionId ?? 'ses_harness',
    stop: async () => {},
  };
  const session: EgressSession = {
    sessionId: harness.sessionId, account: 'acct',
    get policy() { return harness.policy; },
    onLog: (entry) => logs.push(entry),
  };
  const dir = await mkdtemp(join(tmpdir(), 'egress-harness-'));
  const runnerPath = join(dir, 'egress.sock');
  const open = new Set<Socket>();
  const tracked = (s: Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
    return s;
  };
  // Half-open like the runner's DataPort: an end from the agent side is not a close by itself.
  const runner = await listen(createServer({ allowHalfOpen: true }, (s) => void acceptDataChannel(tracked(s), proxy, session)), runnerPath);
  const agent = await listen(createServer((client) => relayToRunner(tracked(client), runnerPath)), 0);
  harness.agentUrl = `http://127.0.0.1:${(agent.address() as { port: number }).port}`;
  harness.stop = async () => {
    proxy.close();
    const closed = Promise.all([close(agent), close(runner)]);
    for (const s of open) s.destroy();
    await closed;
    await rm(dir, { recursive: true, force: true });
  };
  return harness;
}

/** Agent side: header line, then the client's bytes (the first chunk in the same write). */
function relayToRunner(client: Socket, runnerPath: string): void {
  client.on('error', () => client.destroy());
  client.once('data', (first: Buffer) => {
    client.pause();
    const channel = createConnection(runnerPath, () => {
      channel.write(Buffer.concat([Buffer.from(HEADER), first]));
      client.pipe(channel);
      channel.pipe(client);
      client.resume();
    });
    channel.on('error', () => channel.destroy());
    channel.on('close', () => client.destroy());
    client.on('close', () => channel.destroy());
  });
}

/** Runner side: reads the header line, unshifts the rest, serves. */
async function acceptDataChannel(socket: Socket, proxy: EgressProxy, session: EgressSession): Promise<void> {
  socket.on('error', () => socket.destroy());
  let buffered = Buffer.alloc(0);
  for await (const chunk of socket.iterator({ destroyOnReturn: false })) {
    buffered = Buffer.concat([buffered, chunk as Buffer]);
    const nl = buffered.indexOf(0x0a);
    if (nl < 0) continue;
    const header = JSON.parse(buffered.subarray(0, nl).toString()) as { kind?: string };
    if (header.kind !== 'egress') return void socket.destroy();
    const rest = buffered.subarray(nl + 1);
    if (rest.length > 0) socket.unshift(rest);
    proxy.serve(socket, session);
    return;
  }
}

function listen(server: Server, where: string | number): Promise<Server> {
  return new Promise((resolve) => {
    if (typeof where === 'string') server.listen(where, () => resolve(server));
    else server.listen(where, '127.0.0.1', () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
