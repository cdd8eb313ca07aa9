import type { Server } from 'node:http';
import type { DestinationStream } from 'pino';
import { AccountStore } from '../core/accounts.ts';
import { EgressLog } from '../core/egress-log.ts';
import { loadConfig } from '../core/config.ts';
import { ExecEventLog } from '../core/exec-events.ts';
import { ExecSlots } from '../core/exec-slots.ts';
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
import { isLoopbackHost } from '../core/net/loopback.ts';
import type { NameResolver } from '../core/net/resolver.ts';
import { TargetChecker, WebhookEmitter, webhookResolver, Webhooks, WebhookStore } from '../core/webhooks/index.ts';
import { ApiMetrics } from './api-metrics.ts';
import { createApp } from './app.ts';
import { AuthFailureLimit } from './auth-failures.ts';
import { PreviewSite } from './preview-site.ts';
import { Notifier } from '../core/notifier.ts';
import { ExecAdmission } from './exec-admission.ts';
import { ExecStream } from './exec-stream.ts';
import { ExecutionService } from './execution-service.ts';
import { Idempotency } from './idempotency.ts';
import { ApiSessionEvents } from './session-events.ts';
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
  /** Tests: the resolver webhook URLs are checked with at registration (default per `EGRESS_RESOLVER`). */
  webhookResolver?: NameResolver;
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
  const metrics = new ApiMetrics();
  metrics.redisErrors.watch(redis, 'request');
  metrics.redisErrors.watch(subscriber, 'subscriber');
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
  const egress = new EgressLog(redis, keys);
  const previewSite = new PreviewSite({ domain: cfg.PREVIEW_DOMAIN, scheme: cfg.PREVIEW_SCHEME, publicUrl: () => publicUrl });
  const webhookStore = new WebhookStore(redis, keys);
  const emitter = new WebhookEmitter({
    store: webhookStore, redis, bullPrefix: bullPrefix(cfg.REDIS_PREFIX), maxPending: cfg.WEBHOOK_MAX_PENDING,
    retry: { maxAttempts: cfg.WEBHOOK_MAX_ATTEMPTS, baseMs: cfg.WEBHOOK_BACKOFF_BASE_MS }, log: log.child({ module: 'webhooks' }),
  });
  const sessionEvents = new ApiSessionEvents({ redis, keys, webhooks: emitter, log });
  const webhooks = new Webhooks({
    store: webhookStore, accounts,
    checker: new TargetChecker(opts.webhookResolver ?? webhookResolver(cfg), cfg.WEBHOOK_INTERNAL_HOSTS),
  });
  const nodes = new NodeDirectory(redis, keys);
  const snapshotRecords = new SnapshotRecords(redis, keys);
  const sessions = new SessionService({
    store, rpc, nodes, plans, usage, egress, snapshots: snapshotRecords, previewUrl: (id) => previewSite.urlOf(id), events: sessionEvents,
  });
  const snapshots = new SnapshotService({ sessions, records: snapshotRecords, rpc, nodes, plans });
  const notifier = new Notifier(subscriber);
  const admission = new ExecAdmission({ slots: new ExecSlots(redis, keys), notifier, clock, log: log.child({ module: 'admission' }) });
  const executions = new ExecutionService({
    sessions, plans, maxOutputBytes: cfg.MAX_OUTPUT_BYTES, graceMs: cfg.REQUEST_GRACE_MS, metrics, admission, clock, usage,
    events: new ExecStream(redis, new ExecEventLog(redis, keys), notifier, keys),
  });
  const sessionTokens = new SessionTokens(await sessionTokenSecret(cfg, redis, keys), accounts, sessions);
  const app = createApp({ redis, keys, plans, accounts, sessions, snapshots, executions, usage, egress, sessionTokens, previewPort: cfg.PREVIEW_PORT,
    previewSite, authFailures: new AuthFailureLimit(redis, keys, cfg.AUTH_FAILURES_PER_MINUTE),
    idempotency: new Idempotency(redis, keys, { maxBytes: cfg.IDEMPOTENCY_MAX_BYTES }), adminSecret: cfg.ADMIN_JWT_SECRET, trustProxy: cfg.TRUST_PROXY,
    adminTokenMaxTtlSec: cfg.ADMIN_TOKEN_MAX_TTL,
    workspace: new WorkspaceService({ sessions, plans, transfers: new TransferClient(), transferDeadlineMs: cfg.TRANSFER_DEADLINE_MS }),
    log, webhooks, metrics,
    metricsAccess: { token: cfg.METRICS_TOKEN, open: isLoopbackHost(cfg.HOST) && !cfg.TRUST_PROXY } });
  if (!cfg.METRICS_TOKEN && !(isLoopbackHost(cfg.HOST) && !cfg.TRUST_PROXY)) {
    log.warn('GET /metrics answers 401 until METRICS_TOKEN is set: the API is not on loopback, or a proxy relays to it');
  }
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
    await sessionEvents.drain();
    await emitter.close();
    admission.stop();
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
