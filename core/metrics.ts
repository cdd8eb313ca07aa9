import { createHash, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { isConnectionError } from './redis.ts';

/**
 * Prometheus metrics shared by the API and the runner. Each process builds its own
 * {@link Registry} (never prom-client's global one: tests run an API and runners in one process)
 * and passes it down. Label values are route templates, statuses, lanes, states and node ids —
 * never a session, execution, key or account id.
 */

/** A registry with the process's own series (CPU, memory, event-loop lag, GC) as `buntime_process_*` and `buntime_nodejs_*`. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'buntime_' });
  return registry;
}

/** Why a Redis command failed: unreachable or stalled, past its deadline, or answered with an error. */
export type RedisErrorKind = 'unavailable' | 'timeout' | 'reply';

/**
 * `buntime_redis_errors_total{connection, kind}`: Redis commands that failed, counted on the
 * connections handed to {@link watch}.
 */
export class RedisErrorCounter {
  private readonly counter: Counter<'connection' | 'kind'>;

  constructor(registry: Registry) {
    this.counter = new Counter({
      name: 'buntime_redis_errors_total',
      help: 'Redis commands that failed, by connection and kind (unavailable, timeout, reply)',
      labelNames: ['connection', 'kind'],
      registers: [registry],
    });
  }

  /**
   * Counts every failed command of `redis` under `connection` (a fixed name such as `request`).
   * ioredis has no per-connection hook, so the instance's `sendCommand` (through which single
   * commands, pipelines and transactions all pass) is wrapped; the caller still gets the error.
   */
  watch(redis: Redis, connection: string): void {
    for (const kind of ['unavailable', 'timeout', 'reply'] as const) this.counter.inc({ connection, kind }, 0);
    const send = redis.sendCommand.bind(redis);
    const wrapped = (command: Parameters<Redis['sendCommand']>[0], stream?: unknown) => {
      if (isHandshake(command)) return send(command, stream as never);
      command.promise.catch((err: unknown) => {
        const kind = redisErrorKind(err);
        if (kind) this.counter.inc({ connection, kind });
      });
      return send(command, stream as never);
    };
    redis.sendCommand = wrapped as Redis['sendCommand'];
  }
}

/**
 * ioredis's own `CLIENT SETINFO` on every connect, which Redis before 7.2 refuses and ioredis
 * ignores: not a failure of ours.
 */
function isHandshake(command: { name: string; args: unknown[] }): boolean {
  return command.name.toLowerCase() === 'client' && String(command.args[0]).toUpperCase() === 'SETINFO';
}

/** The kind of a failed command, or undefined for an expected answer (a script not cached yet). */
export function redisErrorKind(err: unknown): RedisErrorKind | undefined {
  if (!(err instanceof Error)) return 'reply';
  if (err.message.startsWith('NOSCRIPT')) return undefined;
  if (/Command timed out/i.test(err.message)) return 'timeout';
  return isConnectionError(err) ? 'unavailable' : 'reply';
}

/**
 * Whether a scrape may read the metrics: with a token configured, only `Bearer <token>` may
 * (compared in constant time); without one, anyone when the listener is open (loopback), nobody
 * otherwise.
 */
export function metricsAllowed(authorization: string | undefined, token: string | undefined, open: boolean): boolean {
  if (token === undefined) return open;
  const m = /^Bearer +(\S+)$/i.exec(authorization ?? '');
  if (!m) return false;
  return timingSafeEqual(digest(m[1]!), digest(token));
}

// Equal-length inputs for timingSafeEqual whatever the presented token's length.
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
