import type { Logger } from '../core/logger.ts';
import type { ExecutePayload } from '../core/queues.ts';
import type { ExecutionResult } from '../core/schemas.ts';
import type { SessionEventData, SessionEventType, WebhookEmitter } from '../core/webhooks/index.ts';
import type { NodeMetrics } from './node-metrics.ts';

/** What a session event may say besides its type and session. */
export interface SessionEventInfo {
  /** The owner, when the caller has it (a deleted session's record is gone). */
  account?: string;
  /** `session.woke`: what it woke from, and how long waking took (ms). */
  from?: 'idle' | 'deep-sleep';
  durationMs?: number;
  /** `session.created`: epoch ms. */
  createdAt?: number;
  expiresAt?: number;
}

/**
 * What the runner's modules report as it happens, in one call each: lifecycle webhooks and
 * metrics hang off it. Every method returns at once and never throws; the work behind it runs
 * in the background (see {@link NodeEventHub.drain}).
 */
export interface NodeEvents {
  /** A session hosted here reached a lifecycle step. */
  session(type: SessionEventType, sessionId: string, info?: SessionEventInfo): void;
  /** A session container was created and its agent answered, after `ms`. */
  containerCreated(ms: number): void;
  /** An execution ran to a result (a program's failure is a result too), just now. */
  executionFinished(p: ExecutePayload, result: ExecutionResult): void;
}

export interface NodeEventHubOptions {
  nodeId: string;
  metrics: NodeMetrics;
  webhooks: WebhookEmitter;
  /** The account owning a session (its record), when it still exists. */
  accountOf: (sessionId: string) => Promise<string | undefined>;
  log: Logger;
}

/** {@link NodeEvents} of a runner: metrics at once, webhook events queued in the background. */
export class NodeEventHub implements NodeEvents {
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly o: NodeEventHubOptions) {}

  session(type: SessionEventType, sessionId: string, info: SessionEventInfo = {}): void {
    if (type === 'session.woke' && info.from && info.durationMs !== undefined) this.o.metrics.sessionWoke(info.from, info.durationMs);
    const data: SessionEventData = { sessionId, nodeId: this.o.nodeId };
    if (info.from) data.from = info.from;
    if (info.createdAt !== undefined) data.createdAt = new Date(info.createdAt).toISOString();
    if (info.expiresAt !== undefined) data.expiresAt = new Date(info.expiresAt).toISOString();
    this.track(this.emit(sessionId, info.account, (account) => this.o.webhooks.emit(account, type, data)));
  }

  containerCreated(ms: number): void {
    this.o.metrics.containerCreated(ms);
  }

  executionFinished(p: ExecutePayload, r: ExecutionResult): void {
    // The program's own wall time ends now: its start is that long ago (waking the session before excluded).
    const finishedAt = Date.now();
    const startedAt = finishedAt - r.executionTime;
    this.track(this.emit(p.sessionId, undefined, (account) => this.o.webhooks.emit(account, 'execution.finished', {
      sessionId: p.sessionId, executionId: p.executionId, status: r.status, exitCode: r.exitCode, signal: r.signal,
      timedOut: r.timedOut, startedAt: new Date(startedAt).toISOString(), finishedAt: new Date(finishedAt).toISOString(),
      executionTime: r.executionTime, cpuTime: r.cpuTime, memoryUsed: r.memoryUsed,
    })));
  }

  /**
   * Waits for events still being queued (before the runner closes Redis), at most `ms`: with
   * Redis away they would wait for it forever, and a shutdown must not.
   */
  async drain(ms = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); });
    await Promise.race([Promise.allSettled([...this.inflight]), late]);
    clearTimeout(timer);
  }

  private async emit(sessionId: string, known: string | undefined, send: (account: string) => Promise<unknown>): Promise<void> {
    try {
      const account = known ?? (await this.o.accountOf(sessionId));
      if (account) await send(account);
    } catch (err) {
      this.o.log.warn({ err, sessionId }, 'could not emit a session event');
    }
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }
}
