import { z } from 'zod';
import { egressPolicySchema } from './network-policy.ts';
import { resourceLimitsSchema } from './schemas.ts';
import type { SessionRecord } from './session-store.ts';

/**
 * A session as the API shows it — the one shape `POST /sessions/create`, `GET /sessions/{id}`
 * and each entry of `GET /sessions` answer with.
 */
export const sessionViewSchema = z.object({
  sessionId: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  lastActive: z.string(),
  state: z.enum(['active', 'idle', 'deep-sleep', 'lost']),
  /**
   * Only when `state` is `lost`: `workspace_missing` (its files are gone from its node's disk;
   * only DELETE is left) or `node_unreachable` (its node stopped answering; it may come back).
   */
  lostReason: z.string().optional(),
  /** Regular files in /workspace, as of the last time the node counted them. */
  filesCount: z.number().int(),
  /** Running executions, as of the last time the node counted them. */
  activeProcesses: z.number().int(),
  metadata: z.record(z.string(), z.unknown()),
  resourceLimits: resourceLimitsSchema,
  /** The effective egress policy: `egress` level, `allow`/`deny` lists, `ports`. */
  /** The session's effective egress policy (a copy: the view is plain, mutable JSON). */
  network: z.object({
    egress: egressPolicySchema.shape.egress,
    allow: z.array(z.string()),
    deny: z.array(z.string()),
    ports: z.array(z.number().int()),
  }),
  previewUrl: z.string(),
});
export type SessionView = z.infer<typeof sessionViewSchema>;

/**
 * Builds the view of a session record. `alive` is whether its node is alive (else `lost`);
 * `previewUrl` where its preview is served; `stat` fresh counts when the caller has them (else
 * the record's last known ones).
 */
export function toSessionView(
  rec: SessionRecord,
  o: { alive: boolean; previewUrl: string; stat?: { filesCount: number; activeProcesses: number } },
): SessionView {
  const lostReason = !o.alive ? 'node_unreachable' : rec.state === 'lost' ? (rec.lostReason ?? 'workspace_missing') : undefined;
  return {
    sessionId: rec.sessionId,
    createdAt: new Date(rec.createdAt).toISOString(),
    expiresAt: new Date(rec.expiresAt).toISOString(),
    lastActive: new Date(rec.lastActive).toISOString(),
    state: o.alive ? rec.state : 'lost',
    ...(lostReason ? { lostReason } : {}),
    filesCount: o.stat?.filesCount ?? rec.filesCount,
    activeProcesses: o.stat?.activeProcesses ?? (rec.state === 'deep-sleep' || rec.state === 'lost' ? 0 : rec.activeProcesses),
    metadata: rec.metadata,
    resourceLimits: rec.resourceLimits,
    network: { egress: rec.network.egress, allow: [...rec.network.allow], deny: [...rec.network.deny], ports: [...rec.network.ports] },
    previewUrl: o.previewUrl,
  };
}
