import type { Redis } from 'ioredis';

/**
 * Redis is the system of record (accounts, keys, sessions, usage, queues), so it must keep what
 * it acknowledged: an append-only file and no eviction (config/redis.conf). A Redis the operator
 * gives through `REDIS_URL` is checked once at start and each problem logged as a warning.
 *
 * Reads `INFO` (allowed where managed services disable `CONFIG`) and, when it may, the fsync
 * policy. Resolves with the problems found, none when all is well; rejects only when Redis
 * cannot be reached at all.
 */
export async function checkRedisDurability(redis: Redis): Promise<string[]> {
  const info = await redis.info('persistence').then(async (p) => `${p}\n${await redis.info('memory')}`);
  const appendfsync = await redis.config('GET', 'appendfsync').then(
    (reply) => (Array.isArray(reply) ? String(reply[1] ?? '') : undefined),
    () => undefined,
  );
  return durabilityProblems(info, appendfsync);
}

/** The problems `INFO persistence` + `INFO memory` (and `appendfsync`, when known) show. */
export function durabilityProblems(info: string, appendfsync?: string): string[] {
  const fields = parseInfo(info);
  const problems: string[] = [];
  if (fields.get('aof_enabled') !== '1') {
    problems.push('no append-only file (appendonly no): a restart loses every account, key and session written since the last snapshot');
  } else {
    if (appendfsync === 'no') problems.push('appendfsync no: a crash can lose tens of seconds of writes (use everysec)');
    if (fields.get('aof_last_write_status') === 'err') problems.push('the last write to the append-only file failed (disk full or read-only?)');
  }
  const policy = fields.get('maxmemory_policy');
  if (policy !== undefined && policy !== 'noeviction') {
    problems.push(`maxmemory-policy ${policy} evicts keys: accounts, sessions and queued jobs can vanish under memory pressure (use noeviction)`);
  }
  return problems;
}

function parseInfo(info: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of info.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) fields.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return fields;
}
