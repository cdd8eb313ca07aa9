import { randomBytes } from 'node:crypto';
import type { Principal } from '../core/accounts.ts';
import type { ExecutionOutcome } from './api-metrics.ts';
import { BuntimeError } from '../core/errors.ts';
import type { ExecStream } from './exec-stream.ts';
import type { SseWriter } from './sse.ts';
import type { Plans } from '../core/plans.ts';
import { nodeJobs, START_MARGIN_MS, type ExecutePayload } from '../core/queues.ts';
import type { RedisClock } from '../core/redis-clock.ts';
import type { SessionRecord } from '../core/session-store.ts';
import type { ExecutionResult } from '../core/schemas.ts';
import type { UsageStore } from '../core/usage.ts';
import type { ExecAdmission } from './exec-admission.ts';
import { executionTimeout } from './limits.ts';
import type { SessionService } from './session-service.ts';
import { resolveInWorkspace, WORKSPACE, type ExecuteBody } from './validation.ts';

export interface ExecutionOptions {
  sessions: SessionService;
  plans: Plans;
  events: ExecStream;
  /** Output retained per stream, bytes. */
  maxOutputBytes: number;
  /**
   * How long an execution may wait for its turn (queue wait) beyond its own timeout before the
   * caller gets its 408, ms. Its deadline is now + timeout + this.
   */
  graceMs: number;
  /** Told how each execution ended (metrics). */
  metrics?: { execution(status: ExecutionOutcome, executionTimeMs?: number): void };
  /** Running-execution slots per account and session (fair scheduling). */
  admission: ExecAdmission;
  clock: RedisClock;
  /** Counts executions that waited for a slot past their deadline (`expired`, as the runner does). */
  usage: UsageStore;
}

/**
 * Time a granted execution may take to reach its node and start there, ms: a waiter gives up
 * this much before the runner would refuse it anyway.
 */
const PICKUP_MS = 250;

/** Runs executions: validates them against the plan and the session, then one job to the session's node. */
export class ExecutionService {
  constructor(private readonly o: ExecutionOptions) {}

  /** Prepares the job payload (and the session record to send it for) for an execute request. */
  async prepare(who: Principal, body: ExecuteBody): Promise<{ rec: SessionRecord; payload: ExecutePayload }> {
    const { rec } = await this.o.sessions.hosted(who, body.sessionId);
    const plan = this.o.plans[who.plan];
    const timeoutSec = executionTimeout(plan, rec.resourceLimits, body.timeout);
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
      maxOutputBytes: this.o.maxOutputBytes,
      maxFileBytes: plan.maxFileBytes,
      keyId: who.keyId,
    };
    return { rec, payload };
  }

  async execute(who: Principal, body: ExecuteBody): Promise<ExecutionResult> {
    const { rec, payload } = await this.prepare(who, body);
    return this.run(who, rec, payload);
  }

  /** Waits for a running slot, enqueues a prepared execution and waits for its result. */
  async run(who: Principal, rec: SessionRecord, payload: ExecutePayload): Promise<ExecutionResult> {
    const deadline = this.o.clock.now() + payload.timeoutMs + this.o.graceMs;
    try {
      const result = await this.admitted(who, rec, payload.executionId, { deadline, budgetMs: payload.timeoutMs }, (deadlineMs) =>
        this.o.sessions.callOn(rec, 'execute', payload, { deadlineMs, jobId: payload.executionId }));
      this.o.metrics?.execution(result.status, result.executionTime);
      return result;
    } catch (err) {
      this.o.metrics?.execution('failed');
      throw err;
    }
  }

  /**
   * Runs `call` (the job, given the time left to its deadline) while holding one of the
   * account's and the session's running slots. The deadline is fixed on arrival: time spent
   * waiting for a slot comes out of the request's grace, never out of the program's time
   * (`budgetMs`, what the job needs once started).
   */
  private async admitted<T>(
    who: Principal, rec: SessionRecord, executionId: string, t: { deadline: number; budgetMs: number },
    call: (deadlineMs: number) => Promise<T>,
  ): Promise<T> {
    const release = await this.o.admission.admit({
      account: rec.account, sessionId: rec.sessionId, executionId,
      latestStart: t.deadline - t.budgetMs - START_MARGIN_MS - PICKUP_MS, leaseUntil: t.deadline,
    }, this.o.plans[who.plan].runningExecutions).catch((err: unknown) => {
      if (err instanceof BuntimeError && err.code === 'execution_timeout') this.o.usage.expired(who.keyId);
      throw err;
    });
    try {
      return await call(t.deadline - this.o.clock.now());
    } finally {
      await release().catch(() => {});
    }
  }

  /** The session a streamed execution runs in (null when unknown), for session-token checks. */
  sessionOf(executionId: string): Promise<string | null> {
    return this.o.events.sessionOf(executionId);
  }

  /**
   * Starts a background execution; it counts as an execution, its CPU time is not metered. It
   * holds a running slot only while it starts: once running it is bounded by its session's CPU
   * share and process limit, not by the account's slots (a long-lived server must not block the
   * session's executions for its whole life).
   */
  async spawn(who: Principal, body: ExecuteBody): Promise<{ executionId: string; pid: number }> {
    const { rec, payload } = await this.prepare(who, body);
    const deadline = this.o.clock.now() + nodeJobs.spawn.deadlineMs;
    const started = await this.admitted(who, rec, payload.executionId, { deadline, budgetMs: 0 }, (deadlineMs) =>
      this.o.sessions.callOn(rec, 'spawn', payload, { deadlineMs, jobId: payload.executionId }));
    this.o.metrics?.execution('background');
    return started;
  }

  /**
   * Streams an execution as SSE: validation problems still answer as plain JSON errors; once
   * the stream is open, output and the result come from the execution's event stream. A client
   * that goes away stops only its own reading, never the execution.
   */
  async stream(who: Principal, body: ExecuteBody, sse: SseWriter): Promise<void> {
    const { rec, payload } = await this.prepare(who, body);
    await this.o.events.claim(payload.executionId, who.account, payload.timeoutMs, payload.sessionId);
    sse.open({ 'X-Execution-Id': payload.executionId });
    this.run(who, rec, payload).catch((err: unknown) => {
      const e = err instanceof BuntimeError ? err : new BuntimeError('internal_error', 'internal error');
      return this.o.events.fail(payload.executionId, e.toBody());
    }).catch(() => {});
    await this.replay(payload.executionId, '0', sse);
  }

  /** Resumes an execution's events after `afterId`; another account's execution is not found. */
  async resume(who: Principal, executionId: string, afterId: string, sse: SseWriter): Promise<void> {
    if ((await this.o.events.owner(executionId)) !== who.account) {
      throw new BuntimeError('not_found', 'execution not found', { details: { executionId } });
    }
    // Resumed from the final event (a browser's EventSource does that after the result): done.
    if (await this.o.events.completeAt(executionId, afterId)) {
      sse.complete();
      return;
    }
    sse.open({ 'X-Execution-Id': executionId });
    await this.replay(executionId, afterId, sse);
  }

  private async replay(executionId: string, afterId: string, sse: SseWriter): Promise<void> {
    try {
      await this.o.events.follow(executionId, afterId, (e) => sse.event(e), () => sse.ping(), sse.closed());
    } finally {
      sse.end();
    }
  }
}
