import type { Principal } from '../core/accounts.ts';
import { BuntimeError } from '../core/errors.ts';
import type { JobRpcClient } from '../core/job-rpc.ts';
import type { NodeDirectory } from '../core/node-directory.ts';
import type { Plans } from '../core/plans.ts';
import { nodeJobQueue, nodeJobs } from '../core/queues.ts';
import { newSnapshotId, type SnapshotRecord, type SnapshotRecords } from '../core/snapshots.ts';
import type { SessionService } from './session-service.ts';

/** A named snapshot as the API shows it. */
export interface SnapshotView {
  snapshotId: string;
  sessionId: string;
  name: string | null;
  createdAt: string;
  /** Disk the snapshot takes, bytes. */
  sizeBytes: number;
}

const MB = 1024 * 1024;

/**
 * Named snapshots: copies of a session's workspace that belong to the account, outlive the
 * session, and start new sessions (`POST /sessions/create {snapshotId}`). Each plan caps how
 * many an account keeps and the disk they take (`snapshot_limit_exceeded`). The files stay on
 * the node that made them.
 */
export class SnapshotService {
  constructor(
    private readonly o: { sessions: SessionService; records: SnapshotRecords; rpc: JobRpcClient; nodes: NodeDirectory; plans: Plans },
  ) {}

  async create(who: Principal, sessionId: string, name: string | undefined): Promise<SnapshotView> {
    const { rec } = await this.o.sessions.hosted(who, sessionId);
    const plan = this.o.plans[who.plan];
    const maxBytes = plan.snapshotStorageMb * MB;
    const snapshotId = newSnapshotId();
    const held = await this.o.records.reserve(who.account, snapshotId, plan.maxSnapshots, maxBytes);
    if (held !== 'ok') throw limitReached(held, plan.maxSnapshots, plan.snapshotStorageMb);
    const queue = nodeJobQueue(rec.nodeId, 'snapshotCreate');
    let made: { sizeBytes: number; diskMb: number };
    try {
      made = await this.o.rpc.call(nodeJobs, queue, 'snapshotCreate', { sessionId, snapshotId });
    } catch (err) {
      await this.o.records.release(who.account, snapshotId).catch(() => {});
      throw err;
    }
    // The size is known only once made: one that takes the account past its storage is undone.
    if ((await this.o.records.bytes(who.account)) + made.sizeBytes > maxBytes) {
      await this.removeFiles(rec.nodeId, snapshotId).catch(() => {});
      await this.o.records.release(who.account, snapshotId).catch(() => {});
      throw limitReached('storage', plan.maxSnapshots, plan.snapshotStorageMb);
    }
    const record: SnapshotRecord = {
      snapshotId, account: who.account, sessionId, name: name ?? null, createdAt: Date.now(),
      sizeBytes: made.sizeBytes, diskMb: made.diskMb, nodeId: rec.nodeId,
    };
    await this.o.records.put(record);
    return view(record);
  }

  async list(who: Principal): Promise<{ snapshots: SnapshotView[]; total: number }> {
    const snapshots = (await this.o.records.list(who.account)).map(view);
    return { snapshots, total: snapshots.length };
  }

  async get(who: Principal, snapshotId: string): Promise<SnapshotView> {
    return view(await this.owned(who, snapshotId));
  }

  /** Deletes a snapshot: its files on its node, then its record. */
  async delete(who: Principal, snapshotId: string): Promise<{ deleted: true; snapshotId: string }> {
    const rec = await this.owned(who, snapshotId);
    if (!(await this.o.nodes.alive(rec.nodeId))) {
      throw new BuntimeError('service_unavailable', 'the node that keeps this snapshot is unreachable', {
        details: { snapshotId }, retryAfterSec: 10,
      });
    }
    await this.removeFiles(rec.nodeId, snapshotId);
    await this.o.records.remove(rec);
    return { deleted: true, snapshotId };
  }

  private async owned(who: Principal, snapshotId: string): Promise<SnapshotRecord> {
    const rec = await this.o.records.get(snapshotId);
    if (!rec || rec.account !== who.account) throw new BuntimeError('not_found', 'snapshot not found', { details: { snapshotId } });
    return rec;
  }

  private async removeFiles(nodeId: string, snapshotId: string): Promise<void> {
    await this.o.rpc.call(nodeJobs, nodeJobQueue(nodeId, 'snapshotDelete'), 'snapshotDelete', { snapshotId });
  }
}

function limitReached(which: 'count' | 'storage', max: number, storageMb: number): BuntimeError {
  return which === 'count'
    ? new BuntimeError('snapshot_limit_exceeded', `the plan keeps ${max} snapshots`, { details: { limit: max, kind: 'count' } })
    : new BuntimeError('snapshot_limit_exceeded', `the plan's snapshots may take ${storageMb} MB`, {
      details: { limitMb: storageMb, kind: 'storage' },
    });
}

function view(r: SnapshotRecord): SnapshotView {
  return { snapshotId: r.snapshotId, sessionId: r.sessionId, name: r.name, createdAt: new Date(r.createdAt).toISOString(), sizeBytes: r.sizeBytes };
}
