import { randomBase62, type Principal } from '../core/accounts.ts';
import type { EgressLog, EgressLogEntry } from '../core/egress-log.ts';
import { BuntimeError } from '../core/errors.ts';
import type { JobRpcClient } from '../core/job-rpc.ts';
import { effectivePolicy, type EgressPolicy } from '../core/network-policy.ts';
import type { NodeBeat, NodeDirectory } from '../core/node-directory.ts';
import type { Plans } from '../core/plans.ts';
import {
  nodeJobQueue, nodeJobs, SESSIONS_QUEUE, sessionJobs, type NewSessionPayload, type NodeJobs, type Payload, type Result,
} from '../core/queues.ts';
import type { ResourceLimits } from '../core/schemas.ts';
import { toSessionView, type SessionView } from '../core/session-view.ts';
import type { SessionRecord, SessionStore } from '../core/session-store.ts';
import type { SnapshotRecords } from '../core/snapshots.ts';
import type { UsageStore } from '../core/usage.ts';
import { sessionLimits, sessionTtl } from './limits.ts';
import type { CreateSessionBody, ForkSessionBody } from './validation.ts';

const TOUCH_EVERY_MS = 1_000;

export interface SessionServiceOptions {
  store: SessionStore;
  rpc: JobRpcClient;
  nodes: NodeDirectory;
  plans: Plans;
  usage: UsageStore;
  snapshots: SnapshotRecords;
  /** Where a session's preview is served (`PreviewSite.urlOf`). */
  previewUrl: (sessionId: string) => string;
  /** Told of sessions found lost and of lost ones deleted here (webhooks). */
  events?: { lost(rec: SessionRecord): void; deleted(rec: SessionRecord): void };
  /** Sessions' egress logs (written by the runners). */
  egress: EgressLog;
}

/** A live session of the caller and the node hosting it. */
export interface HostedSession {
  rec: SessionRecord;
  node: NodeBeat;
}

/** Session operations of the API: plan checks, slot reservation, and jobs to the nodes. */
export class SessionService {
  constructor(private readonly o: SessionServiceOptions) {}

  /** A new session: empty on whichever node has room, or from a named snapshot on the node that keeps it. */
  async create(who: Principal, body: CreateSessionBody): Promise<SessionView> {
    const plan = this.o.plans[who.plan];
    if (body.snapshotId !== undefined) return this.createFromSnapshot(who, body, body.snapshotId);
    const resourceLimits = sessionLimits(plan, who.plan, body);
    if (!(await this.o.nodes.anyWithRoom())) {
      throw new BuntimeError('service_unavailable', 'no node has room for a new session', { retryAfterSec: 10 });
    }
    const network = effectivePolicy(plan.network, body.network);
    return this.open(who, { resourceLimits, ttl: sessionTtl(plan, body), metadata: body.metadata ?? {}, network },
      (session) => this.o.rpc.call(sessionJobs, SESSIONS_QUEUE, 'create', session));
  }

  /**
   * A new session of the same account whose workspace is a copy of `sourceId`'s at this instant
   * (same limits; processes are not copied). It counts against the session cap like a create.
   */
  async fork(who: Principal, sourceId: string, body: ForkSessionBody): Promise<SessionView> {
    const { rec } = await this.hosted(who, sourceId);
    const ttl = sessionTtl(this.o.plans[who.plan], body);
    // A fork keeps its source's egress policy (it is the same program's files).
    return this.open(who, { resourceLimits: rec.resourceLimits, ttl, metadata: body.metadata ?? rec.metadata, network: rec.network },
      (session) => this.callOn(rec, 'fork', { session }));
  }

  private async createFromSnapshot(who: Principal, body: CreateSessionBody, snapshotId: string): Promise<SessionView> {
    const plan = this.o.plans[who.plan];
    const snap = await this.o.snapshots.get(snapshotId);
    if (!snap || snap.account !== who.account) {
      throw new BuntimeError('not_found', 'snapshot not found', { details: { snapshotId } });
    }
    // The workspace is a copy of the snapshot's image: its disk is the snapshot's.
    if (body.resourceLimits?.disk !== undefined && body.resourceLimits.disk !== snap.diskMb) {
      throw new BuntimeError('invalid_request', `a session from this snapshot has its disk of ${snap.diskMb} MB`, {
        details: { field: 'resourceLimits.disk', snapshotDiskMb: snap.diskMb },
      });
    }
    if (snap.diskMb > plan.ceilings.disk) {
      throw new BuntimeError('invalid_request', `the snapshot's disk of ${snap.diskMb} MB is above the plan ceiling`, {
        details: { field: 'snapshotId', max: plan.ceilings.disk },
      });
    }
    const limits: ResourceLimits = { ...sessionLimits(plan, who.plan, body), disk: snap.diskMb };
    if (!(await this.o.nodes.alive(snap.nodeId))) {
      throw new BuntimeError('service_unavailable', 'the node that keeps this snapshot is unreachable', {
        details: { snapshotId }, retryAfterSec: 10,
      });
    }
    const network = effectivePolicy(plan.network, body.network);
    return this.open(who, { resourceLimits: limits, ttl: sessionTtl(plan, body), metadata: body.metadata ?? {}, network },
      (session) => this.o.rpc.call(nodeJobs, nodeJobQueue(snap.nodeId, 'snapshotRestore'), 'snapshotRestore', { snapshotId, session }));
  }

  /**
   * Takes a slot of the account's session cap, has a node make the session with `make`, and
   * frees the slot again if that fails.
   */
  private async open(
    who: Principal,
    o: { resourceLimits: ResourceLimits; ttl: number; metadata: Record<string, unknown>; network: EgressPolicy },
    make: (session: NewSessionPayload) => Promise<{ sessionId: string; nodeId: string; containerId: string }>,
  ): Promise<SessionView> {
    const plan = this.o.plans[who.plan];
    const slotId = `slot_${randomBase62(20)}`;
    if (!(await this.o.store.reserve(who.account, slotId, plan.maxSessions))) {
      throw new BuntimeError('session_limit_exceeded', `the plan allows ${plan.maxSessions} concurrent sessions`, {
        details: { limit: plan.maxSessions }, retryAfterSec: 10,
      });
    }
    const createdAt = Date.now();
    const expiresAt = createdAt + o.ttl * 1000;
    const { resourceLimits, metadata, network } = o;
    let created: { sessionId: string; nodeId: string; containerId: string };
    try {
      created = await make({ slotId, account: who.account, resourceLimits, metadata, network, createdAt, expiresAt });
    } catch (err) {
      await this.o.store.release(who.account, slotId).catch(() => {});
      // A create nobody picked up in time means no node had room: retry later, not a 408.
      if (err instanceof BuntimeError && err.code === 'execution_timeout') {
        throw new BuntimeError('service_unavailable', 'no node took the session in time', { retryAfterSec: 10, cause: err });
      }
      throw err;
    }
    this.o.usage.sessionOpened(who.keyId, created.sessionId, createdAt, expiresAt);
    const rec: SessionRecord = {
      sessionId: created.sessionId, account: who.account, nodeId: created.nodeId, containerId: created.containerId,
      uid: 0, createdAt, expiresAt, lastActive: createdAt, state: 'active', metadata, resourceLimits, network,
      filesCount: 0, activeProcesses: 0,
    };
    return this.view(rec, true);
  }

  sessionOfPreview(previewId: string): Promise<string | undefined> {
    return this.o.store.byPreviewId(previewId);
  }

  /** The caller's live session; anyone else's, or an expired one, is `session_not_found`. */
  async owned(who: Principal, sessionId: string): Promise<SessionRecord> {
    const rec = await this.o.store.get(sessionId);
    if (!rec || rec.account !== who.account || rec.expiresAt <= Date.now()) {
      throw new BuntimeError('session_not_found', 'session not found', { details: { sessionId } });
    }
    return rec;
  }

  /** The caller's session and its node, which must be alive (a lost node answers 503 at once). */
  async hosted(who: Principal, sessionId: string): Promise<HostedSession> {
    const rec = await this.owned(who, sessionId);
    const node = await this.o.nodes.beat(rec.nodeId);
    if (!node) {
      this.o.events?.lost(rec);
      throw new BuntimeError('service_unavailable', 'the node hosting this session is unreachable', {
        details: { sessionId: rec.sessionId, state: 'lost' }, retryAfterSec: 10,
      });
    }
    // lastActive to the second is plenty; most requests of a busy session write nothing.
    if (Date.now() - rec.lastActive > TOUCH_EVERY_MS) void this.o.store.touch(rec.sessionId).catch(() => {});
    return { rec, node };
  }

  /** Sends a node job about the caller's session to the node hosting it. */
  async call<J extends keyof NodeJobs & string>(
    who: Principal, sessionId: string, job: J, rest: Omit<Payload<NodeJobs, J>, 'sessionId'>, opts: { deadlineMs?: number } = {},
  ): Promise<Result<NodeJobs, J>> {
    const { rec } = await this.hosted(who, sessionId);
    return this.callOn(rec, job, rest, opts);
  }

  /** Sends a node job about a session already looked up. */
  callOn<J extends keyof NodeJobs & string>(
    rec: SessionRecord, job: J, rest: Omit<Payload<NodeJobs, J>, 'sessionId'>, opts: { deadlineMs?: number; jobId?: string } = {},
  ): Promise<Result<NodeJobs, J>> {
    const payload = { ...rest, sessionId: rec.sessionId } as Payload<NodeJobs, J>;
    return this.o.rpc.call(nodeJobs, nodeJobQueue(rec.nodeId, job), job, payload, opts);
  }

  async get(who: Principal, sessionId: string): Promise<SessionView> {
    const rec = await this.owned(who, sessionId);
    const alive = await this.o.nodes.alive(rec.nodeId);
    if (!alive) {
      this.o.events?.lost(rec);
      return this.view(rec, false);
    }
    if (rec.state === 'lost') return this.view(rec, true);
    let stat: Result<NodeJobs, 'stat'>;
    try {
      stat = await this.callOn(rec, 'stat', {});
    } catch (err) {
      // Found lost just now: the record says so and why.
      if (err instanceof BuntimeError && err.code === 'session_lost') return this.view(await this.owned(who, sessionId), true);
      throw err;
    }
    void this.o.store.setStat(sessionId, stat).catch(() => {});
    return this.view(rec, true, stat);
  }

  /** The account's live sessions; counts as last reported (a listing never wakes a session). */
  async list(who: Principal, limit: number, offset: number): Promise<{ sessions: SessionView[]; total: number }> {
    const { sessions, total } = await this.o.store.list(who.account, limit, offset);
    const live = await this.o.nodes.live();
    for (const s of sessions) if (!live.has(s.nodeId)) this.o.events?.lost(s);
    return { sessions: sessions.map((s) => this.view(s, live.has(s.nodeId))), total };
  }

  /** The session's latest egress connections, newest first (`GET /sessions/{id}/egress`). */
  async egress(who: Principal, sessionId: string, limit: number): Promise<{ connections: EgressLogEntry[] }> {
    await this.owned(who, sessionId);
    return { connections: await this.o.egress.latest(sessionId, limit) };
  }

  /** Deletes at once; a session on a lost node is forgotten here so its slot frees. */
  async delete(who: Principal, sessionId: string): Promise<{ deleted: true; sessionId: string }> {
    const rec = await this.owned(who, sessionId);
    if (await this.o.nodes.alive(rec.nodeId)) await this.callOn(rec, 'delete', {});
    else if (await this.o.store.remove(rec)) this.o.events?.deleted(rec);
    // Awaited so the lifetime is counted before the caller can ask for its usage.
    await this.o.usage.sessionClosed(sessionId, Date.now()).catch(() => {});
    return { deleted: true, sessionId };
  }

  private view(rec: SessionRecord, alive: boolean, stat?: { filesCount: number; activeProcesses: number }): SessionView {
    return toSessionView(rec, { alive, previewUrl: this.o.previewUrl(rec.sessionId), stat });
  }
}
