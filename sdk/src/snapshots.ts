import { callOptions, type HttpClient } from './http.ts';
import type { CreateSnapshotParams, DeleteSnapshotResult, RequestOptions, SnapshotInfo, SnapshotList } from './types.ts';

/**
 * Named snapshots of the account: copies of a session's `/workspace` that outlive the session
 * and start new sessions (`sessions.create({ snapshotId })`). Reached as `client.snapshots`.
 */
export class Snapshots {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /**
   * Snapshots a session's workspace as it is now (its writers wait while its blocks are copied).
   * Not retried: a retry could make a second snapshot. `snapshot_limit_exceeded` (429) past the
   * plan's count or storage.
   */
  create(sessionId: string, params: CreateSnapshotParams = {}, options: RequestOptions = {}): Promise<SnapshotInfo> {
    const req = { method: 'POST', path: `/sessions/${encodeURIComponent(sessionId)}/snapshots`, json: params, retry: false } as const;
    return this.#http.json({ ...req, ...callOptions(options) });
  }

  /** The account's snapshots, newest first. */
  list(options: RequestOptions = {}): Promise<SnapshotList> {
    return this.#http.json({ method: 'GET', path: '/snapshots', ...callOptions(options) });
  }

  /** One snapshot; `not_found` (404) when unknown, deleted or another account's. */
  get(snapshotId: string, options: RequestOptions = {}): Promise<SnapshotInfo> {
    return this.#http.json({ method: 'GET', path: `/snapshots/${encodeURIComponent(snapshotId)}`, ...callOptions(options) });
  }

  /** Deletes a snapshot and frees its share of the plan's snapshot storage. */
  delete(snapshotId: string, options: RequestOptions = {}): Promise<DeleteSnapshotResult> {
    return this.#http.json({ method: 'DELETE', path: `/snapshots/${encodeURIComponent(snapshotId)}`, ...callOptions(options) });
  }
}
