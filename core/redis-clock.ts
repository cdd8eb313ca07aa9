import type { Redis } from 'ioredis';

/** How often the offset to Redis's clock is measured again, ms. */
const RESYNC_MS = 30_000;

/**
 * "Now" on Redis's clock: API instances and runners may sit on hosts whose clocks disagree, so
 * job deadlines are set and checked on the one clock they share. The offset is measured with
 * `TIME` (half the round trip as the error bound) and refreshed in the background; until the
 * first measurement the local clock stands in.
 */
export class RedisClock {
  private offsetMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly redis: Redis) {}

  async start(): Promise<void> {
    await this.sync().catch(() => {});
    this.timer = setInterval(() => void this.sync().catch(() => {}), RESYNC_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Epoch ms on the Redis clock. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  private async sync(): Promise<void> {
    const before = Date.now();
    const [sec, usec] = await this.redis.time();
    const after = Date.now();
    const redisMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    this.offsetMs = redisMs - (before + after) / 2;
  }
}
