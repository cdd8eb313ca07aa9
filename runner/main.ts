import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../core/config.ts';
import { EgressLog } from '../core/egress-log.ts';
import { ExecEventLog } from '../core/exec-events.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { loadPlans, PLAN_NAMES } from '../core/plans.ts';
import { bullPrefix, nodeJobs, nodeQueueName, SESSIONS_QUEUE, sessionJobs, type Lane, type NodeJobs } from '../core/queues.ts';
import { RedisClock } from '../core/redis-clock.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { SessionStore } from '../core/session-store.ts';
import { UsageStore } from '../core/usage.ts';
import { AgentAccess } from './agent-access.ts';
import { DockerDriver } from './docker-driver.ts';
import { createEgressProxy } from './egress/index.ts';
import { Executor } from './executor.ts';
import { IdleKeeper } from './idle-keeper.ts';
import { Janitor } from './janitor.ts';
import { createJobWorker, type Handlers } from './job-worker.ts';
import { MetricsServer } from './metrics-server.ts';
import { NodeEventHub } from './node-events.ts';
import { NodeHeartbeat } from './node-heartbeat.ts';
import { nodeHandlers } from './node-handlers.ts';
import { NodeMetrics } from './node-metrics.ts';
import { SandboxLauncher } from './sandbox-launcher.ts';
import { Sandboxes } from './sandboxes.ts';
import { loadSeccompProfile } from './seccomp-profile.ts';
import { registryHosts, SessionEgress } from './session-egress.ts';
import { SessionFactory } from './session-factory.ts';
import { SessionWorkspaces } from './session-workspaces.ts';
import { TimeoutBackstop } from './timeout-backstop.ts';
import { TransferHub } from './transfer-hub.ts';
import { UidAllocator } from './uid-allocator.ts';
import { WorkspaceStore } from './workspace-store.ts';
import { startWebhooks, type WebhookNet } from './webhooks/setup.ts';

export interface RunnerOptions {
  /** Where log lines go (default stdout); tests read them. */
  logDestination?: DestinationStream;
  /** Tests: the webhook delivery path's resolver and dialer (recording ones), a CA to trust. */
  webhookNet?: WebhookNet;
}

/** The jobs of one lane, with the handlers for them. */
function laneHandlers(all: Handlers<NodeJobs>, lane: Lane) {
  const names = (Object.keys(nodeJobs) as Array<keyof NodeJobs>).filter((n) => nodeJobs[n].lane === lane);
  const catalogue = Object.fromEntries(names.map((n) => [n, nodeJobs[n]])) as unknown as NodeJobs;
  return { catalogue, handlers: all };
}

function laneConcurrency(cfg: Config, lane: Lane): number {
  return lane === 'exec' ? cfg.NODE_EXEC_CONCURRENCY : lane === 'data' ? cfg.NODE_DATA_CONCURRENCY : cfg.NODE_CONTROL_CONCURRENCY;
}

/** Periodic sweeps: expiry, idle/deep sleep, orphans. */
function sweeps(janitor: Janitor, lifecycle: IdleKeeper, cfg: Config, log: Logger): NodeJS.Timeout[] {
  const every = (ms: number, what: string, fn: () => Promise<unknown>) =>
    setInterval(() => void fn().catch((err: unknown) => log.warn({ err }, `${what} failed`)), ms);
  return [
    every(1_000, 'expiry sweep', () => janitor.expireDue()),
    every(Math.min(10_000, cfg.IDLE_AFTER * 500), 'idle sweep', () => lifecycle.sweep()),
    every(60_000, 'orphan sweep', () => janitor.reapOrphans()),
  ];
}

/**
 * Takes up the sessions this node hosted before it (re)started: their idle, deep-sleep and
 * expiry clocks go on where the records left them, and the running ones are reconnected at once,
 * which ends the executions a dead runner left in flight (their callers got 408).
 */
async function resumeSessions(store: SessionStore, lifecycle: IdleKeeper, sandboxes: Sandboxes, nodeId: string, log: Logger) {
  for (const id of await store.hostedBy(nodeId)) {
    const rec = await store.get(id);
    if (!rec) continue;
    lifecycle.resume(id, rec.lastActive, rec.state);
    if (rec.state === 'active') {
      void sandboxes.agent(id).catch((err: unknown) => log.warn({ err, sessionId: id }, 'could not reconnect a session'));
    }
  }
}

/** Session creates one node runs at once. */
const SESSIONS_CONCURRENCY = 4;

/** Composition root of a runner: one process = one node = one Docker engine. */
export async function startRunner(env: NodeJS.ProcessEnv = process.env, opts: RunnerOptions = {}) {
  const cfg = loadConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, opts.logDestination).child({ module: 'runner', nodeId: cfg.NODE_ID });
  const keys = new Keys(cfg.REDIS_PREFIX);
  const redis = createRedis(cfg.REDIS_URL);
  const blocking = createRedis(cfg.REDIS_URL);
  const clock = new RedisClock(redis);
  await clock.start();
  const driver = new DockerDriver(cfg.DOCKER_SOCKET, log.child({ module: 'docker' }));
  await driver.ping();
  const store = new SessionStore(redis, keys);
  const usage = new UsageStore(redis, keys);
  const plans = loadPlans(cfg.PLANS_FILE);
  const egress = sessionEgress(cfg, redis, keys, Math.max(...PLAN_NAMES.map((n) => plans[n].maxTtl)), log);
  // Its gauges read the sandboxes at scrape time, once they exist.
  const metrics = new NodeMetrics(cfg.NODE_ID, {
    sessionStates: () => store.statesOn(cfg.NODE_ID), warmReady: (): number => factory.warmReady,
    warmTarget: cfg.WARM_POOL_SIZE, capacity: cfg.NODE_SESSION_CAPACITY,
  });
  metrics.redisErrors.watch(redis, 'runner');
  metrics.redisErrors.watch(blocking, 'runner-blocking');
  const webhooks = startWebhooks({
    cfg, redis, blocking, keys, log: log.child({ module: 'webhooks' }), net: opts.webhookNet,
    onAttempt: (outcome) => metrics.deliveryAttempt(outcome),
  });
  const events = new NodeEventHub({
    nodeId: cfg.NODE_ID, metrics, webhooks: webhooks.emitter, log: log.child({ module: 'events' }),
    accountOf: async (id) => (await redis.hget(keys.session(id), 'account')) ?? undefined,
  });
  const workspaces = sessionWorkspaces(cfg, log);
  await workspaces.start();
  const launcher = new SandboxLauncher({
    driver, workspaces, log: log.child({ module: 'launcher' }), nodeId: cfg.NODE_ID, image: cfg.SANDBOX_IMAGE,
    runtime: cfg.SANDBOX_RUNTIME, pidsLimit: cfg.SANDBOX_PIDS_LIMIT, tmpMb: cfg.SANDBOX_TMP_MB, socketDir: cfg.SOCKET_DIR,
    seccompProfile: loadSeccompProfile(cfg.SECCOMP_PROFILE), npmRegistry: cfg.NPM_REGISTRY_URL, events,
  });
  const sandboxes = new Sandboxes({
    driver, store, launcher, workspaces, egress, events, log: log.child({ module: 'sandboxes' }), nodeId: cfg.NODE_ID,
  });
  const factory = new SessionFactory({
    store, sandboxes, launcher, workspaces, log: log.child({ module: 'factory' }), nodeId: cfg.NODE_ID,
    warmShape: plans.free.defaults, warmPoolSize: cfg.WARM_POOL_SIZE,
  });
  const lifecycle = new IdleKeeper({
    driver, store, containerOf: (id) => sandboxes.containerOf(id), idleAfterMs: cfg.IDLE_AFTER * 1000,
    sleepAfterMs: Math.max(cfg.SLEEP_AFTER, cfg.IDLE_AFTER) * 1000, deepSleep: (id) => sandboxes.deepSleep(id),
    paused: (id) => egress.close(id), log: log.child({ module: 'lifecycle' }), events,
  });
  const janitor = new Janitor({
    nodeId: cfg.NODE_ID, store, sandboxes, workspaces, lifecycle, driver, egress, log: log.child({ module: 'janitor' }), events,
    busy: (id) => sandboxes.busy(id) || factory.busy(id),
  });
  await resumeSessions(store, lifecycle, sandboxes, cfg.NODE_ID, log);
  const reaped = await janitor.reapOrphans();
  if (reaped > 0) log.info({ reaped }, 'removed orphan containers');
  const unclaimed = await factory.recover();
  if (unclaimed > 0) log.info({ unclaimed }, 'removed workspaces of sessions that were never created');
  factory.warmUp();
  const held = () => sandboxes.count + factory.count;

  const transfers = new TransferHub();
  const transferUrl = await transfers.start(cfg.TRANSFER_HOST, cfg.TRANSFER_PORT, cfg.TRANSFER_URL);
  const access = new AgentAccess({ sandboxes, lifecycle, store, driver, log: log.child({ module: 'access' }) });
  const backstop = new TimeoutBackstop({ driver, sandboxes, store, runtime: cfg.SANDBOX_RUNTIME, log: log.child({ module: 'backstop' }) });
  const executor = new Executor({
    access, events: new ExecEventLog(redis, keys, cfg.STREAM_QUOTA_BYTES), usage, log: log.child({ module: 'executor' }),
    resultMaxBytes: cfg.IDEMPOTENCY_MAX_BYTES, backstop, node: events,
  });
  const handlers = nodeHandlers({
    access, exec: executor, janitor, transfers, backstop, previewFirstByteMs: cfg.PREVIEW_FIRST_BYTE_MS,
    sandboxes, factory, workspaces, lifecycle, full: () => held() >= cfg.NODE_SESSION_CAPACITY,
  });
  const common = { connection: blocking, publisher: redis, keys, bullPrefix: bullPrefix(cfg.REDIS_PREFIX), clock, log };
  const onExpired = (_name: string, payload: unknown) => {
    const keyId = (payload as { keyId?: unknown }).keyId;
    if (typeof keyId === 'string') usage.expired(keyId);
  };
  const nodeWorkers: Worker[] = (['exec', 'data', 'control'] as const).map((lane) => createJobWorker({
    ...common, ...laneHandlers(handlers, lane), queue: nodeQueueName(cfg.NODE_ID, lane),
    concurrency: laneConcurrency(cfg, lane), onExpired,
  }));
  const sessionsWorker = createJobWorker({
    ...common, queue: SESSIONS_QUEUE, catalogue: sessionJobs,
    handlers: { create: async (p) => {
      const created = await factory.create(p);
      lifecycle.track(created.sessionId);
      events.session('session.created', created.sessionId, { account: p.account, createdAt: p.createdAt, expiresAt: p.expiresAt });
      return created;
    } }, concurrency: SESSIONS_CONCURRENCY,
  });
  (['exec', 'data', 'control'] as const).forEach((lane, i) => metrics.watchWorker(nodeWorkers[i]!, lane, laneConcurrency(cfg, lane)));
  metrics.watchWorker(sessionsWorker, 'sessions', SESSIONS_CONCURRENCY);
  metrics.watchWorker(webhooks.worker, 'webhooks', cfg.WEBHOOK_CONCURRENCY);
  const metricsServer = cfg.METRICS_PORT === undefined ? undefined
    : new MetricsServer({ registry: metrics.registry, host: cfg.METRICS_HOST, port: cfg.METRICS_PORT, token: cfg.METRICS_TOKEN });
  const metricsUrl = await metricsServer?.start();
  const heartbeat = new NodeHeartbeat({
    redis, keys, nodeId: cfg.NODE_ID,
    load: () => {
      const atCapacity = held() >= cfg.NODE_SESSION_CAPACITY;
      // A full node stops pulling creates so another node takes them.
      if (atCapacity && !sessionsWorker.isPaused()) sessionsWorker.pause(true);
      if (!atCapacity && sessionsWorker.isPaused()) sessionsWorker.resume();
      return { sessions: held(), capacity: cfg.NODE_SESSION_CAPACITY, warm: factory.warmReady, transferUrl };
    },
  });
  await heartbeat.start();
  const timers = sweeps(janitor, lifecycle, cfg, log);
  await Promise.all([...nodeWorkers, sessionsWorker, webhooks.worker].map((w) => w.waitUntilReady()));
  log.info({ image: cfg.SANDBOX_IMAGE, runtime: cfg.SANDBOX_RUNTIME, seccomp: cfg.SECCOMP_PROFILE, metricsUrl }, 'runner ready');

  /** Ordered shutdown: stop taking jobs, let running ones finish, stop sweeps, drop channels. */
  const stop = async () => {
    await Promise.all([sessionsWorker, ...nodeWorkers, webhooks.worker].map((w) => w.close()));
    for (const t of timers) clearInterval(t);
    await heartbeat.stop().catch(() => {});
    await events.drain();
    await webhooks.emitter.close();
    await metricsServer?.stop();
    await transfers.stop();
    await factory.stop();
    await sandboxes.stop();
    egress.stop();
    clock.stop();
    redis.disconnect();
    blocking.disconnect();
    log.info('runner stopped');
  };
  /** Egress counters of this node (dials, test-guard refusals, open connections); read by tests. */
  const egressStats = () => egress.stats();
  return { stop, nodeId: cfg.NODE_ID, metricsUrl, egressStats };
}

/** The node's egress proxy and its glue to sessions; logs live as long as the longest session may. */
function sessionEgress(cfg: Config, redis: Redis, keys: Keys, maxTtlSec: number, log: Logger): SessionEgress {
  const { proxy, dialer } = createEgressProxy(cfg);
  return new SessionEgress({
    proxy, dialerStats: dialer.stats, log: new EgressLog(redis, keys, maxTtlSec),
    implicitHosts: registryHosts(cfg.NPM_REGISTRY_URL), logger: log.child({ module: 'egress' }),
  });
}


/**
 * The node's workspaces: its own directory under WORKSPACE_DIR (so several nodes may share a
 * host), the host-wide uid registry, the named snapshots in SNAPSHOT_DIR.
 */
function sessionWorkspaces(cfg: Config, log: Logger): SessionWorkspaces {
  const store = new WorkspaceStore({
    dir: join(cfg.WORKSPACE_DIR, cfg.NODE_ID), budgetMb: cfg.NODE_DISK_BUDGET_MB, log: log.child({ module: 'workspaces' }),
  });
  return new SessionWorkspaces({
    store, uids: new UidAllocator({ dir: cfg.UID_DIR }), nodeId: cfg.NODE_ID, snapshotDir: cfg.SNAPSHOT_DIR,
    unclaimedDir: join(cfg.WORKSPACE_DIR, `${cfg.NODE_ID}.unclaimed`), log: log.child({ module: 'workspaces' }),
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runner = await startRunner();
  const shutdown = () => void runner.stop().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
