import type { DestinationStream } from 'pino';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { nodeJobs, nodeQueueName, SESSIONS_QUEUE, sessionJobs } from '../core/queues.ts';
import { loadPlans } from '../core/plans.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { SessionStore } from '../core/session-store.ts';
import { DockerDriver } from './docker-driver.ts';
import { ExecEventLog } from './exec-events.ts';
import { Executor } from './executor.ts';
import { createJobWorker } from './job-worker.ts';
import { NodeHeartbeat } from './node-heartbeat.ts';
import { nodeHandlers } from './node-handlers.ts';
import { loadSeccompProfile } from './seccomp-profile.ts';
import { SessionHost } from './session-host.ts';

/** Composition root of a runner: one process = one node = one Docker engine. */
export async function startRunner(env: NodeJS.ProcessEnv = process.env, opts: { logDestination?: DestinationStream } = {}) {
  const cfg = loadConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, opts.logDestination).child({ module: 'runner', nodeId: cfg.NODE_ID });
  const keys = new Keys(cfg.REDIS_PREFIX);
  const bullPrefix = `${cfg.REDIS_PREFIX}-bull`;
  const redis = createRedis(cfg.REDIS_URL);
  const blocking = createRedis(cfg.REDIS_URL);
  const driver = new DockerDriver(cfg.DOCKER_SOCKET, log.child({ module: 'docker' }));
  await driver.ping();
  const store = new SessionStore(redis, keys);
  const host = new SessionHost(driver, store, redis, keys, {
    nodeId: cfg.NODE_ID, image: cfg.SANDBOX_IMAGE, runtime: cfg.SANDBOX_RUNTIME,
    pidsLimit: cfg.SANDBOX_PIDS_LIMIT, tmpMb: cfg.SANDBOX_TMP_MB, seccompProfile: loadSeccompProfile(cfg.SECCOMP_PROFILE), idleAfterMs: cfg.IDLE_AFTER * 1000,
    sleepAfterMs: Math.max(cfg.SLEEP_AFTER, cfg.IDLE_AFTER) * 1000, snapshotDir: cfg.SNAPSHOT_DIR,
    warmShape: loadPlans(cfg.PLANS_FILE).free.defaults, warmPoolSize: cfg.WARM_POOL_SIZE,
  }, log.child({ module: 'host' }));
  const reaped = await host.reapOrphans();
  if (reaped > 0) log.info({ reaped }, 'removed orphan containers');
  host.warmUp();

  const executor = new Executor(host, new ExecEventLog(redis, keys), log.child({ module: 'executor' }));
  const common = { connection: blocking, publisher: redis, keys, bullPrefix, log };
  const nodeWorker = createJobWorker({
    ...common, queue: nodeQueueName(cfg.NODE_ID), catalogue: nodeJobs,
    handlers: nodeHandlers(host, executor), concurrency: cfg.NODE_EXEC_CONCURRENCY,
  });
  const sessionsWorker = createJobWorker({
    ...common, queue: SESSIONS_QUEUE, catalogue: sessionJobs,
    handlers: { create: (p) => host.create(p) }, concurrency: 4,
  });
  const heartbeat = new NodeHeartbeat(redis, keys, cfg.NODE_ID, () => {
    const atCapacity = host.count >= cfg.NODE_SESSION_CAPACITY;
    // A full node stops pulling creates so another node takes them.
    if (atCapacity && !sessionsWorker.isPaused()) sessionsWorker.pause(true);
    if (!atCapacity && sessionsWorker.isPaused()) sessionsWorker.resume();
    return { sessions: host.count, capacity: cfg.NODE_SESSION_CAPACITY, warm: host.warmReady };
  });
  await heartbeat.start();

  const timers = [
    setInterval(() => void host.expireDue().catch((err: unknown) => log.warn({ err }, 'expiry sweep failed')), 1_000),
    setInterval(() => void host.sleepIdle().catch((err: unknown) => log.warn({ err }, 'idle sweep failed')),
      Math.min(10_000, cfg.IDLE_AFTER * 500)),
    setInterval(() => void host.reapOrphans().catch((err: unknown) => log.warn({ err }, 'orphan sweep failed')), 60_000),
  ];
  await Promise.all([nodeWorker.waitUntilReady(), sessionsWorker.waitUntilReady()]);
  log.info({ image: cfg.SANDBOX_IMAGE, runtime: cfg.SANDBOX_RUNTIME, seccomp: cfg.SECCOMP_PROFILE }, 'runner ready');

  /** Ordered shutdown: stop taking jobs, let running ones finish, stop sweeps, drop channels. */
  const stop = async () => {
    await Promise.all([sessionsWorker.close(), nodeWorker.close()]);
    for (const t of timers) clearInterval(t);
    await heartbeat.stop().catch(() => {});
    await host.stop();
    redis.disconnect();
    blocking.disconnect();
    log.info('runner stopped');
  };
  return { stop, nodeId: cfg.NODE_ID };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runner = await startRunner();
  const shutdown = () => void runner.stop().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
