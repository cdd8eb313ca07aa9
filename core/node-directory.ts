import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Keys } from './redis.ts';

/** What a node's heartbeat says about it: declared once, written by runners, read by the API. */
export const nodeBeatSchema = z.object({
  sessions: z.number().int(),
  capacity: z.number().int(),
  warm: z.number().int(),
  /** Base URL of the node's data plane (`core/transfers.ts`). */
  transferUrl: z.string(),
  /** Epoch ms of the beat. */
  at: z.number(),
});
export type NodeBeat = z.infer<typeof nodeBeatSchema>;

/** How long a node counts as alive after its last beat, seconds. */
export const NODE_TTL_SEC = 15;

/** Records one beat of `nodeId`; it lapses after {@link NODE_TTL_SEC} unless renewed. */
export async function writeBeat(redis: Redis, keys: Keys, nodeId: string, beat: NodeBeat): Promise<void> {
  await redis.multi()
    .set(keys.node(nodeId), JSON.stringify(beat), 'EX', NODE_TTL_SEC)
    .sadd(keys.nodes(), nodeId)
    .exec();
}

/** Forgets a node that stops on purpose. */
export async function removeBeat(redis: Redis, keys: Keys, nodeId: string): Promise<void> {
  await redis.multi().del(keys.node(nodeId)).srem(keys.nodes(), nodeId).exec();
}

/** The API's view of the runners: which are alive (heartbeat not expired) and how loaded. */
export class NodeDirectory {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async alive(nodeId: string): Promise<boolean> {
    return (await this.beat(nodeId)) !== undefined;
  }

  /** The node's last beat, or undefined when it is not alive. */
  async beat(nodeId: string): Promise<NodeBeat | undefined> {
    return parseBeat(await this.redis.get(this.keys.node(nodeId)));
  }

  /** Every live node and its load. */
  async live(): Promise<Map<string, NodeBeat>> {
    const ids = await this.redis.smembers(this.keys.nodes());
    const beats = ids.length ? await this.redis.mget(...ids.map((id) => this.keys.node(id))) : [];
    const out = new Map<string, NodeBeat>();
    ids.forEach((id, i) => {
      const beat = parseBeat(beats[i] ?? null);
      if (beat) out.set(id, beat);
    });
    return out;
  }

  /** True when some live node can take another session (as of its last heartbeat). */
  async anyWithRoom(): Promise<boolean> {
    for (const load of (await this.live()).values()) if (load.sessions < load.capacity) return true;
    return false;
  }
}

function parseBeat(text: string | null): NodeBeat | undefined {
  if (!text) return undefined;
  try {
    const parsed = nodeBeatSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
