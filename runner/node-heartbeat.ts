import type { Redis } from 'ioredis';
import { removeBeat, writeBeat, type NodeBeat } from '../core/node-directory.ts';
import type { Keys } from '../core/redis.ts';

const BEAT_MS = 5_000;

/** Tells Redis this node is alive and how loaded it is; the API reads it to spot lost nodes. */
export class NodeHeartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: {
      redis: Redis;
      keys: Keys;
      nodeId: string;
      load: () => Omit<NodeBeat, 'at'>;
    },
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch(() => {}), BEAT_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await removeBeat(this.o.redis, this.o.keys, this.o.nodeId);
  }

  private beat(): Promise<void> {
    return writeBeat(this.o.redis, this.o.keys, this.o.nodeId, { ...this.o.load(), at: Date.now() });
  }
}
