import { Redis, type RedisOptions } from 'ioredis';
import { BuntimeError } from './errors.ts';

/**
 * Opens a Redis connection. `maxRetriesPerRequest: null` is what BullMQ requires of the
 * connections it blocks on; commands issued while Redis is down fail fast instead of queueing
 * forever (`enableOfflineQueue` stays on only for the first connect).
 */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false, ...opts });
  // Connection errors surface on the commands that need Redis (as 503s); ioredis reconnects on
  // its own, so the event itself needs no handling beyond not crashing the process.
  redis.on('error', () => {});
  return redis;
}

/** How long a command on the request path may wait for Redis before it fails, ms. */
export const REQUEST_COMMAND_TIMEOUT_MS = 1_000;
/** How long (re)connecting the request-path connection may take, ms. */
const REQUEST_CONNECT_TIMEOUT_MS = 2_000;

/**
 * Opens the connection an API instance serves requests with. A Redis that is away or stalled
 * (e.g. SIGSTOPped: the socket stays open, nothing comes back) fails each command within
 * {@link REQUEST_COMMAND_TIMEOUT_MS} instead of holding the request for as long as the stall:
 * the caller gets a 503 with `Retry-After` and the connection carries on once Redis answers.
 * Nothing is queued while disconnected, and nothing is resent after a reconnect (a command
 * whose caller was already told it failed must not run later). Never use it for blocking
 * commands (BullMQ workers, `XREAD BLOCK`) or pub/sub: those get {@link createRedis}.
 */
export function createRequestRedis(url: string, opts: RedisOptions = {}): Redis {
  return createRedis(url, {
    commandTimeout: REQUEST_COMMAND_TIMEOUT_MS,
    connectTimeout: REQUEST_CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    lazyConnect: true,
    ...opts,
  });
}

/** Key names under one prefix, so several deployments or test runs can share a Redis. */
export class Keys {
  constructor(readonly prefix: string) {}

  session(id: string): string { return `${this.prefix}:session:${id}`; }
  /** Session id of a preview origin's id (`core/session-store.ts` previewIdOf). */
  previewIndex(previewId: string): string { return `${this.prefix}:preview:${previewId}`; }
  accountSessions(account: string): string { return `${this.prefix}:account:${account}:sessions`; }
  account(name: string): string { return `${this.prefix}:account:${name}`; }
  accounts(): string { return `${this.prefix}:accounts`; }
  accountKeys(name: string): string { return `${this.prefix}:account:${name}:keys`; }
  keyByHash(hash: string): string { return `${this.prefix}:key:${hash}`; }
  keyById(id: string): string { return `${this.prefix}:keyid:${id}`; }
  rate(keyId: string, window: number): string { return `${this.prefix}:rl:${keyId}:${window}`; }
  /** Failed authentications of one client address in its current minute. */
  authFailures(address: string): string { return `${this.prefix}:authfail:${address}`; }
  idempotency(account: string, scope: string, key: string): string {
    return `${this.prefix}:idem:${account}:${scope}:${key}`;
  }
  usage(keyId: string, day: string): string { return `${this.prefix}:usage:${keyId}:${day}`; }
  /** Open sessions whose lifetime is still to be counted (zset by expiresAt) and their owners (hash). */
  usageSessions(): string { return `${this.prefix}:usage-sessions`; }
  usageSessionOwners(): string { return `${this.prefix}:usage-sessions:owners`; }
  /** A secret shared by every API instance of this prefix (e.g. the session-token key). */
  secret(name: string): string { return `${this.prefix}:secret:${name}`; }
  /** A named snapshot's record (hash). */
  snapshot(id: string): string { return `${this.prefix}:snapshot:${id}`; }
  /** An account's named snapshots (zset by createdAt), those being made (zset by lapse) and their bytes. */
  accountSnapshots(account: string): string { return `${this.prefix}:account:${account}:snapshots`; }
  accountSnapshotsPending(account: string): string { return `${this.prefix}:account:${account}:snapshots:pending`; }
  accountSnapshotBytes(account: string): string { return `${this.prefix}:account:${account}:snapshots:bytes`; }
  node(id: string): string { return `${this.prefix}:node:${id}`; }
  nodes(): string { return `${this.prefix}:nodes`; }
  nodeExpiries(id: string): string { return `${this.prefix}:node:${id}:expiries`; }
  reply(jobId: string): string { return `${this.prefix}:reply:${jobId}`; }
  execEvents(executionId: string): string { return `${this.prefix}:exec:${executionId}:events`; }
  execNotify(executionId: string): string { return `${this.prefix}:exec:${executionId}:notify`; }
  /** A webhook (hash), an account's webhooks (set), those subscribed to one event type (set). */
  webhook(id: string): string { return `${this.prefix}:webhook:${id}`; }
  accountWebhooks(account: string): string { return `${this.prefix}:account:${account}:webhooks`; }
  webhookSubscribers(account: string, event: string): string { return `${this.prefix}:account:${account}:webhooks:${event}`; }
  /** A webhook's recent delivery attempts (list, newest first) and an account's pending deliveries (zset). */
  webhookDeliveries(id: string): string { return `${this.prefix}:webhook:${id}:deliveries`; }
  webhookPending(account: string): string { return `${this.prefix}:account:${account}:webhook-pending`; }
  /** Set once a session's loss was reported (`session.lost` goes out once). */
  sessionLost(sessionId: string): string { return `${this.prefix}:session:${sessionId}:lost`; }
  /** The account a streamed execution belongs to; its stored size (bytes and expiry bucket). */
  execOwner(executionId: string): string { return `${this.execEvents(executionId)}:owner`; }
  execSize(executionId: string): string { return `${this.execEvents(executionId)}:size`; }
  /** Bytes an account keeps in Redis, by kind (core/stored-bytes.ts). */
  storedBytes(account: string, kind: 'idempotency' | 'streams'): string { return `${this.storedBytesPrefix()}${account}:${kind}`; }
  storedBytesPrefix(): string { return `${this.prefix}:stored:`; }
  /** Running-execution slots and the waiting line of an account (core/exec-slots.ts). */
  slots(account: string, part: 'run' | 'line' | 'meta' | 'alive'): string { return `${this.prefix}:xs:a:${account}:${part}`; }
  sessionSlots(sessionId: string): string { return `${this.prefix}:xs:s:${sessionId}`; }
  slotSeq(): string { return `${this.prefix}:xs:seq`; }
  slotGrants(): string { return `${this.prefix}:xs:granted`; }
}

/** `Retry-After` of answers given while Redis is unavailable, s. */
export const REDIS_RETRY_AFTER_SEC = 5;

/** Maps an ioredis failure to the service's error: Redis unreachable is a 503, never a 500. */
export function redisUnavailable(cause: unknown): BuntimeError {
  return new BuntimeError('service_unavailable', 'the data store is unreachable', {
    cause,
    retryAfterSec: REDIS_RETRY_AFTER_SEC,
  });
}

/**
 * True for errors that mean "Redis cannot serve now" rather than "the command was wrong": not
 * there, not answering in time, still loading its data after a restart, or full (noeviction).
 */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code) ||
    /Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|enableOfflineQueue|Command timed out/i.test(err.message) ||
    /^(LOADING|OOM|MISCONF|MASTERDOWN|TRYAGAIN) /.test(err.message)
  );
}
