import { randomBase62, type Principal } from '../core/accounts.ts';
import { BuntimeError } from '../core/errors.ts';
import type { JobRpcClient } from '../core/job-rpc.ts';
import type { Plans } from '../core/plans.ts';
import { nodeJobs, nodeQueueName, SESSIONS_QUEUE, sessionJobs } from '../core/queues.ts';
import type { NodeDirectory } from '../core/node-directory.ts';
import type { SessionRecord, SessionStore } from '../core/session-store.ts';
import type { UsageStore } from '../core/usage.ts';
import { sessionLimits, sessionTtl } from './limits.ts';
import type { CreateSessionBody } from './validation.ts';

const CREATE_TIMEOUT_MS = 60_000;
const NODE_CALL_TIMEOUT_MS = 30_000;
const TOUCH_EVERY_MS = 1_000;

/** Session operations of the API: plan checks, slot reservation, and jobs to the nodes. */
export class SessionService {
  constructor(
    private readonly store: SessionStore,
    private readonly rpc: JobRpcClient,
    private readonly nodes: NodeDirectory,
    private readonly plans: Plans,
    /** Base of the URLs handed out (previewUrl). */
    private readonly publicUrl: () => string,
    private readonly usage: UsageStore,
  ) {}

  async create(who: Principal, body: CreateSessionBody) {
    const plan = this.plans[who.plan];
    const resourceLimits = sessionLimits(plan, who.plan, body);
    const ttl = sessionTtl(plan, body);
    if (!(await this.nodes.anyWithRoom())) {
      throw new BuntimeError('service_unavailable', 'no node has room for a new session', { retryAfterSec: 10 });
    }
    const slotId = `slot_${randomBase62(20)}`;
    if (!(await this.store.reserve(who.account, slotId, plan.maxSessions))) {
      throw new BuntimeError('session_limit_exceeded', `the plan allows ${plan.maxSessions} concurrent sessions`, {
        details: { limit: plan.maxSessions }, retryAfterSec: 10,
      });
    }
    const createdAt = Date.now();
    const expiresAt = createdAt + ttl * 1000;
    let sessionId: string;
    try {
      ({ sessionId } = await this.rpc.call(sessionJobs, SESSIONS_QUEUE, 'create', {
        slotId, account: who.account, resourceLimits, metadata: body.metadata ?? {}, createdAt, expiresAt,
      }, { timeoutMs: CREATE_TIMEOUT_MS }));
    } catch (err) {
      await this.store.release(who.account, slotId).catch(() => {});
      // A create nobody picked up in time means no node had room: retry later, not a 408.
      if (err instanceof BuntimeError && err.code === 'execution_timeout') {
        throw new BuntimeError('service_unavailable', 'no node took the session in time', { retryAfterSec: 10, cause: err });
      }
      throw err;
    }
    this.usage.sessionOpened(who.keyId, sessionId, createdAt, expiresAt);
    return {
      sessionId,
      createdAt: new Date(createdAt).toISOString(),
      expiresAt: new Date(expiresAt).toISOString(),
      previewUrl: `${this.publicUrl()}/preview/${sessionId}/`,
      resourceLimits,
      state: 'active' as const,
    };
  }

  /** The caller's live session; anyone else's, or an expired one, is `session_not_found`. */
  async owned(who: Principal, sessionId: string): Promise<SessionRecord> {
    const rec = await this.store.get(sessionId);
    if (!rec || rec.account !== who.account || rec.expiresAt <= Date.now()) {
      throw new BuntimeError('session_not_found', 'session not found', { details: { sessionId } });
    }
    return rec;
  }

  /** The session's node queue, after checking the node is alive. */
  async nodeQueue(rec: SessionRecord): Promise<string> {
    if (!(await this.nodeAlive(rec.nodeId))) {
      throw new BuntimeError('service_unavailable', 'the node hosting this session is unreachable', {
        details: { sessionId: rec.sessionId, state: 'lost' }, retryAfterSec: 10,
      });
    }
    // lastActive to the second is plenty; most requests of a busy session write nothing.
    if (Date.now() - rec.lastActive > TOUCH_EVERY_MS) void this.store.touch(rec.sessionId).catch(() => {});
    return nodeQueueName(rec.nodeId);
  }

  async get(who: Principal, sessionId: string) {
    const rec = await this.owned(who, sessionId);
    const alive = await this.nodeAlive(rec.nodeId);
    const stat = alive
      ? await this.rpc.call(nodeJobs, nodeQueueName(rec.nodeId), 'stat', { sessionId }, { timeoutMs: NODE_CALL_TIMEOUT_MS })
      : { filesCount: 0, activeProcesses: 0 };
    return { ...view(rec, alive), ...stat };
  }

  async list(who: Principal, limit: number, offset: number) {
    const { sessions, total } = await this.store.list(who.account, limit, offset);
    const alive = new Map<string, boolean>();
    for (const s of sessions) if (!alive.has(s.nodeId)) alive.set(s.nodeId, await this.nodeAlive(s.nodeId));
    return { sessions: sessions.map((s) => view(s, alive.get(s.nodeId) ?? false)), total };
  }

  /** Deletes at once; a session on a lost node is forgotten here so its slot frees. */
  async delete(who: Principal, sessionId: string) {
    const rec = await this.owned(who, sessionId);
    if (await this.nodeAlive(rec.nodeId)) {
      await this.rpc.call(nodeJobs, nodeQueueName(rec.nodeId), 'delete', { sessionId }, { timeoutMs: NODE_CALL_TIMEOUT_MS });
    } else {
      await this.store.remove(rec);
    }
    // Awaited so the lifetime is counted before the caller can ask for its usage.
    await this.usage.sessionClosed(sessionId, Date.now()).catch(() => {});
    return { deleted: true, sessionId };
  }

  private nodeAlive(nodeId: string): Promise<boolean> {
    return this.nodes.alive(nodeId);
  }
}

function view(rec: SessionRecord, alive: boolean) {
  return {
    sessionId: rec.sessionId,
    createdAt: new Date(rec.createdAt).toISOString(),
    expiresAt: new Date(rec.expiresAt).toISOString(),
    lastActive: new Date(rec.lastActive).toISOString(),
    state: alive ? rec.state : ('lost' as const),
    metadata: rec.metadata,
    resourceLimits: rec.resourceLimits,
  };
}
