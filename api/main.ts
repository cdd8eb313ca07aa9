import type { Server } from 'node:http';
import type { DestinationStream } from 'pino';
import { AccountStore } from '../core/accounts.ts';
import { loadConfig } from '../core/config.ts';
import { ExecEventLog } from '../core/exec-events.ts';
import { JobRpcClient } from '../core/job-rpc.ts';
import { bullPrefix, replyChannelPrefix } from '../core/queues.ts';
import { RedisClock } from '../core/redis-clock.ts';
import { createLogger } from '../core/logger.ts';
import { loadPlans } from '../core/plans.ts';
import { NodeDirectory } from '../core/node-directory.ts';
import { createRedis, createRequestRedis, Keys } from '../core/redis.ts';
import { SessionStore } from '../core/session-store.ts';
import { SnapshotRecords } from '../core/snapshots.ts';
import { UsageStore } from '../core/usage.ts';
import { createApp } from './app.ts';
import { Notifier } from '../core/notifier.ts';
import { ExecStream } from './exec-stream.ts';
import { ExecutionService } from './execution-service.ts';
import { Idempotency } from './idempotency.ts';
import { SessionService } from './session-service.ts';
import { SessionTokens, sessionTokenSecret } from './session-tokens.ts';
import { SnapshotService } from './snapshot-service.ts';
import { TransferClient } from './transfer-client.ts';
import { WorkspaceService } from './workspace-service.ts';

/** How often an instance ends the counted lifetimes of expired or vanished sessions, ms. */
const USAGE_SETTLE_MS = 15_000;

export interface ApiOptions {
  /** Where log lines go (default stdout); tests read them. */
  logDestination?: DestinationStream;
}

/** Composition root of the API: config, Redis, services, the express app, the listener. */
export async function startApi(env: NodeJS.ProcessEnv = process.env, opts: ApiOptions = {}) {
  const cfg = loadConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, opts.logDestination).child({ module: 'api' });
  const plans = loadPlans(cfg.PLANS_FILE);
  const keys = new Keys(cfg.REDIS_PREFIX);
  // Commands fail fast while Redis is away or stalled (503) instead of waiting until it is back.
  const redis = createRequestRedis(cfg.REDIS_URL);
  const subscriber = createRedis(cfg.REDIS_URL, { lazyConnect: true });
  await Promise.all([redis.connect(), subscriber.connect()]);
  const clock = new RedisClock(redis);
  await clock.start();
  const rpc = new JobRpcClient({
    redis, subscriber, clock, bullPrefix: bullPrefix(cfg.REDIS_PREFIX), channelPrefix: replyChannelPrefix(cfg.REDIS_PREFIX),
  });
  await rpc.start();
  // Known for sure only once listening (PORT=0 picks a free port).
  let publicUrl = cfg.PUBLIC_URL ?? `http://${cfg.HOST}:${cfg.PORT}`;
  const store = new SessionStore(redis, keys);
  const usage = new UsageStore(redis, keys);
  const accounts = new AccountStore(redis, keys);
  const nodes = new NodeDirectory(redis, keys);
  const snapshotRecords = new SnapshotRecords(redis, keys);
  const sessions = new SessionService({
    store, rpc, nodes, plans, usage, snapshots: snapshotRecords, publicUrl: () => publicUrl,
  });
  const snapshots = new SnapshotService({ sessions, records: snapshotRecords, rpc, nodes, plans });
  const executions = new ExecutionService({
    sessions, plans, maxOutputBytes: cfg.MAX_OUTPUT_BYTES, graceMs: cfg.REQUEST_GRACE_MS,
    events: new ExecStream(redis, new ExecEventLog(redis, keys), new Notifier(subscriber), keys),
  });
  const sessionTokens = new SessionTokens(await sessionTokenSecret(cfg, redis, keys), accounts, sessions);
  const app = createApp({ redis, keys, plans, accounts, sessions, snapshots, executions, usage, sessionTokens, previewPort: cfg.PREVIEW_PORT,
    idempotency: new Idempotency(redis, keys), adminSecret: cfg.ADMIN_JWT_SECRET, trustProxy: cfg.TRUST_PROXY,
    workspace: new WorkspaceService({ sessions, plans, transfers: new TransferClient() }), log });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(cfg.PORT, cfg.HOST, () => resolve(s));
  });
  server.keepAliveTimeout = 65_000;
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.PORT;
  publicUrl = cfg.PUBLIC_URL ?? `http://${cfg.HOST}:${port}`;
  log.info({ host: cfg.HOST, port, admin: cfg.ADMIN_JWT_SECRET ? 'enabled' : 'disabled' }, 'api listening');
  const settle = setInterval(() => void usage.settle().catch((err: unknown) => log.warn({ err }, 'usage settle failed')), USAGE_SETTLE_MS);

  /** Ordered shutdown: stop accepting, finish requests, release waiting callers, close Redis. */
  const stop = async () => {
    clearInterval(settle);
    // Idle keep-alive connections would hold close() open; busy ones get a moment to finish.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), 2_000);
    await closed;
    clearTimeout(force);
    await rpc.stop();
    clock.stop();
    redis.disconnect();
    subscriber.disconnect();
  };
  return { stop, port, url: `http://${cfg.HOST}:${port}` };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const api = await startApi();
  const shutdown = () => void api.stop().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
