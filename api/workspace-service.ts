import type { Principal } from '../core/accounts.ts';
import { BuntimeError } from '../core/errors.ts';
import type { JobRpcClient } from '../core/job-rpc.ts';
import type { Plans } from '../core/plans.ts';
import { nodeJobs, type NodeJobs, type Payload, type Result } from '../core/queues.ts';
import type { SessionService } from './session-service.ts';

const CALL_TIMEOUT_MS = 60_000;

export interface PreviewRequest {
  port: number;
  method: string;
  /** Path and query string as the session's server should see them. */
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** Files and processes of a session: ownership and plan checks, then one job to its node. */
export class WorkspaceService {
  constructor(
    private readonly sessions: SessionService,
    private readonly rpc: JobRpcClient,
    private readonly plans: Plans,
  ) {}

  async write(who: Principal, sessionId: string, path: string, content: Buffer) {
    const maxFileBytes = this.maxFile(who, content.length);
    return this.call(who, sessionId, 'fileWrite', { path, contentBase64: content.toString('base64'), maxFileBytes });
  }

  async read(who: Principal, sessionId: string, path: string): Promise<Buffer> {
    const maxFileBytes = this.plans[who.plan].maxFileBytes;
    const r = await this.call(who, sessionId, 'fileRead', { path, maxFileBytes });
    return Buffer.from(r.contentBase64, 'base64');
  }

  list(who: Principal, sessionId: string, path: string, limit: number, offset: number) {
    return this.call(who, sessionId, 'fileList', { path, limit, offset });
  }

  delete(who: Principal, sessionId: string, path: string) {
    return this.call(who, sessionId, 'fileDelete', { path });
  }

  upload(who: Principal, sessionId: string, path: string, tar: Buffer) {
    const maxFileBytes = this.plans[who.plan].maxFileBytes;
    return this.call(who, sessionId, 'upload', { path, tarBase64: tar.toString('base64'), maxFileBytes });
  }

  async download(who: Principal, sessionId: string, path: string): Promise<Buffer> {
    const r = await this.call(who, sessionId, 'download', { path });
    return Buffer.from(r.tarBase64, 'base64');
  }

  /** Relays one HTTP request to the session's preview port; the answer as the server gave it. */
  async preview(who: Principal, sessionId: string, req: PreviewRequest) {
    const r = await this.call(who, sessionId, 'preview', { ...req, bodyBase64: req.body.toString('base64') });
    return { status: r.status, headers: r.headers, body: Buffer.from(r.bodyBase64, 'base64') };
  }

  processes(who: Principal, sessionId: string) {
    return this.call(who, sessionId, 'processes', {});
  }

  kill(who: Principal, sessionId: string, pid: number | undefined) {
    return this.call(who, sessionId, 'kill', pid === undefined ? {} : { pid });
  }

  private maxFile(who: Principal, size: number): number {
    const max = this.plans[who.plan].maxFileBytes;
    if (size > max) {
      throw new BuntimeError('payload_too_large', `file over the plan's limit of ${max} bytes`, {
        details: { size, max },
      });
    }
    return max;
  }

  private async call<J extends keyof NodeJobs & string>(
    who: Principal, sessionId: string, job: J, rest: Omit<Payload<NodeJobs, J>, 'sessionId'>,
  ): Promise<Result<NodeJobs, J>> {
    const rec = await this.sessions.owned(who, sessionId);
    const queue = await this.sessions.nodeQueue(rec);
    const payload = { ...rest, sessionId } as Payload<NodeJobs, J>;
    return this.rpc.call(nodeJobs, queue, job, payload, { timeoutMs: CALL_TIMEOUT_MS });
  }
}
