import type { Redis } from 'ioredis';
import type { Keys } from './redis.ts';

/** What a node's heartbeat says about it. */
export interface NodeLoad {
  sessions: number;
  capacity: number;
  warm: number;
}

/** The API's view of the runners: which are alive (heartbeat not expired) and how loaded. */
export class NodeDirectory {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async alive(nodeId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.node(nodeId))) === 1;
  }

  /** Every live node and its load. */
  async live(): Promise<Map<string, NodeLoad>> {
    const ids = await this.redis.smembers(this.keys.nodes());
    const beats = ids.length ? await this.redis.mget(...ids.map((id) => this.keys.node(id))) : [];
    const out = new Map<string, NodeLoad>();
    ids.forEach((id, i) => {
      const beat = beats[i];
      if (beat) out.set(id, JSON.parse(beat) as NodeLoad);
    });
    return out;
  }

  /** True when some live node can take another session (as of its last heartbeat). */
  async anyWithRoom(): Promise<boolean> {
    for (const load of (await this.live()).values()) if (load.sessions < load.capacity) return true;
    return false;
  }
}
