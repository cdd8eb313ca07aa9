import { randomBytes } from 'node:crypto';
import type { Principal } from '../core/accounts.ts';
import { BuntimeError } from '../core/errors.ts';
import type { ExecStream } from './exec-stream.ts';
import type { SseWriter } from './sse.ts';
import type { JobRpcClient } from '../core/job-rpc.ts';
import type { Plans } from '../core/plans.ts';
import { nodeJobs, type ExecutePayload } from '../core/queues.ts';
import type { ExecutionResult } from '../core/schemas.ts';
import type { UsageStore } from '../core/usage.ts';
import { executionTimeout } from './limits.ts';
import type { SessionService } from './session-service.ts';
import { resolveInWorkspace, WORKSPACE, type ExecuteBody } from './validation.ts';

export interface ExecutionOptions {
  /** Output retained per stream, bytes. */
  maxOutputBytes: number;
  /** Extra time the API waits beyond an execution's own timeout before answering 408, ms. */
  graceMs: number;
}

/** Runs executions: validates them against the plan and the session, then one job to the session's node. */
export class ExecutionService {
  constructor(
    private readonly sessions: SessionService,
    private readonly rpc: JobRpcClient,
    private readonly plans: Plans,
    private readonly opts: ExecutionOptions,
    private readonly events: ExecStream,
    private readonly usage: UsageStore,
  ) {}

  /** Prepares the job payload (and the queue to send it to) for an execute request. */
  async prepare(who: Principal, body: ExecuteBody): Promise<{ queue: string; payload: ExecutePayload }> {
    const rec = await this.sessions.owned(who, body.sessionId);
    const plan = this.plans[who.plan];
    const timeoutSec = executionTimeout(plan, rec.resourceLimits, body.timeout);
    const queue = await this.sessions.nodeQueue(rec);
    const payload: ExecutePayload = {
      sessionId: rec.sessionId,
      executionId: `exec_${randomBytes(12).toString('hex')}`,
      kind: body.code !== undefined ? 'code' : 'command',
      source: body.code ?? body.command ?? '',
      files: body.files ?? [],
      env: body.env ?? {},
      timeoutMs: timeoutSec * 1000,
      workingDir: body.workingDir ? resolveInWorkspace(body.workingDir) ?? WORKSPACE : WORKSPACE,
      stdin: body.stdin ?? null,
      stream: body.stream === true,
      maxOutputBytes: this.opts.maxOutputBytes,
      maxFileBytes: plan.maxFileBytes,
    };
    return { queue, payload };
  }

  async execute(who: Principal, body: ExecuteBody): Promise<ExecutionResult> {
    const { queue, payload } = await this.prepare(who, body);
    return this.run(queue, payload, who);
  }

  /** Enqueues a prepared execution, waits for its result and meters it for the caller's key. */
  async run(queue: string, payload: ExecutePayload, who: Principal): Promise<ExecutionResult> {
    const result = await this.rpc.call(nodeJobs, queue, 'execute', payload, {
      timeoutMs: payload.timeoutMs + this.opts.graceMs, jobId: payload.executionId,
    });
    this.usage.execution(who.keyId, result.cpuTime);
    return result;
  }

  /** The session a streamed execution runs in (null when unknown), for session-token checks. */
  sessionOf(executionId: string): Promise<string | null> {
    return this.events.sessionOf(executionId);
  }

  /** Starts a background execution; it counts as an execution, its CPU time is not metered. */
  async spawn(who: Principal, body: ExecuteBody): Promise<{ executionId: string; pid: number }> {
    const { queue, payload } = await this.prepare(who, body);
    const started = await this.rpc.call(nodeJobs, queue, 'spawn', payload, { timeoutMs: 30_000, jobId: payload.executionId });
    this.usage.execution(who.keyId, 0);
    return started;
  }

  /**
   * Streams an execution as SSE: validation problems still answer as plain JSON errors; once
   * the stream is open, output and the result come from the execution's event stream. A client
   * that goes away stops only its own reading, never the execution.
   */
  async stream(who: Principal, body: ExecuteBody, sse: SseWriter): Promise<void> {
    const { queue, payload } = await this.prepare(who, body);
    await this.events.claim(payload.executionId, who.account, payload.timeoutMs, payload.sessionId);
    sse.open({ 'X-Execution-Id': payload.executionId });
    this.run(queue, payload, who).catch((err: unknown) => {
      const e = err instanceof BuntimeError ? err : new BuntimeError('internal_error', 'internal error');
      return this.events.fail(payload.executionId, e.toBody());
    }).catch(() => {});
    await this.replay(payload.executionId, '0', sse);
  }

  /** Resumes an execution's events after `afterId`; another account's execution is not found. */
  async resume(who: Principal, executionId: string, afterId: string, sse: SseWriter): Promise<void> {
    if ((await this.events.owner(executionId)) !== who.account) {
      throw new BuntimeError('not_found', 'execution not found', { details: { executionId } });
    }
    sse.open({ 'X-Execution-Id': executionId });
    await this.replay(executionId, afterId, sse);
  }

  private async replay(executionId: string, afterId: string, sse: SseWriter): Promise<void> {
    try {
      await this.events.follow(executionId, afterId, (e) => sse.event(e), () => sse.ping(), sse.closed());
    } finally {
      sse.end();
    }
  }
}
