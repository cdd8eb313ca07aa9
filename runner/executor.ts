import { BuntimeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ExecutePayload } from '../core/queues.ts';
import { executionResultSchema, type ExecutionResult } from '../core/schemas.ts';
import { AgentGoneError, type AgentChannel, type AgentReply } from './agent-channel.ts';
import type { ExecEventLog } from './exec-events.ts';
import type { SessionHost } from './session-host.ts';

/**
 * Runs executions in session sandboxes: hands them to the agent, relays output to the event
 * log when the caller streams, and turns the agent's answer into the API's result.
 */
export class Executor {
  constructor(
    private readonly host: SessionHost,
    private readonly events: ExecEventLog,
    private readonly log: Logger,
  ) {}

  async run(p: ExecutePayload): Promise<ExecutionResult> {
    const onOut = p.stream ? this.relay(p.executionId) : undefined;
    try {
      const reply = await this.agent(p.sessionId, (ch) => ch.request(runRequest(p, false), onOut?.push));
      const result = executionResultSchema.parse({ ...(reply.result as object), executionId: p.executionId });
      if (onOut) await onOut.finish('result', result);
      return result;
    } catch (err) {
      if (onOut && err instanceof BuntimeError) await onOut.finish('error', err.toBody());
      throw err;
    }
  }

  async spawn(p: ExecutePayload): Promise<{ executionId: string; pid: number }> {
    const reply = await this.agent(p.sessionId, (ch) => ch.request(runRequest(p, true)));
    return { executionId: p.executionId, pid: Number(reply.pid) };
  }

  /** Sends one request to a session's agent, mapping a vanished agent to the API's errors. */
  async agent(sessionId: string, fn: (ch: AgentChannel) => Promise<AgentReply>): Promise<AgentReply> {
    try {
      return await this.host.use(sessionId, fn);
    } catch (err) {
      if (!(err instanceof AgentGoneError)) throw err;
      if (!(await this.host.exists(sessionId))) {
        throw new BuntimeError('session_not_found', 'the session was deleted', { details: { sessionId } });
      }
      this.log.warn({ sessionId, reason: err.message }, 'agent went away during a request');
      const oom = await this.host.oomKilled(sessionId);
      if (oom) {
        throw new BuntimeError('memory_limit_exceeded', 'the session container ran out of memory', {
          details: { sessionId },
        });
      }
      throw new BuntimeError('service_unavailable', 'the session sandbox restarted; retry', {
        details: { sessionId }, retryAfterSec: 1,
      });
    }
  }

  private relay(executionId: string) {
    let chain: Promise<void> = Promise.resolve();
    const enqueue = (event: 'stdout' | 'stderr' | 'result' | 'error', data: unknown) => {
      chain = chain.then(() => this.events.append(executionId, event, data)).catch((err: unknown) => {
        this.log.warn({ err, executionId }, 'could not append an execution event');
      });
      return chain;
    };
    return {
      push: (reply: AgentReply) => {
        void enqueue(reply.stream === 'stderr' ? 'stderr' : 'stdout', { data: reply.data });
      },
      finish: (event: 'result' | 'error', data: unknown) => enqueue(event, data),
    };
  }
}

function runRequest(p: ExecutePayload, background: boolean): Record<string, unknown> {
  return {
    op: 'run',
    execId: p.executionId,
    kind: p.kind,
    source: p.source,
    files: p.files,
    env: p.env,
    cwd: p.workingDir,
    stdin: p.stdin,
    timeoutMs: p.timeoutMs,
    maxOutputBytes: p.maxOutputBytes,
    maxFileBytes: p.maxFileBytes,
    stream: p.stream && !background,
    background,
  };
}
