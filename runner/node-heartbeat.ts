import type { Redis } from 'ioredis';
import type { Keys } from '../core/redis.ts';

/** How long a node counts as alive after its last beat, seconds. */
export const NODE_TTL_SEC = 15;
const BEAT_MS = 5_000;

/** Tells Redis this node is alive and how loaded it is; the API reads it to spot lost nodes. */
export class NodeHeartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly nodeId: string,
    private readonly load: () => { sessions: number; capacity: number; warm: number },
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch(() => {}), BEAT_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.multi().del(this.keys.node(this.nodeId)).srem(this.keys.nodes(), this.nodeId).exec();
  }

  private async beat(): Promise<void> {
    const body = JSON.stringify({ ...this.load(), at: Date.now() });
    await this.redis.multi()
      .set(this.keys.node(this.nodeId), body, 'EX', NODE_TTL_SEC)
      .sadd(this.keys.nodes(), this.nodeId)
      .exec();
  }
}
