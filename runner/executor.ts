import type { RunRequest } from '../core/agent-protocol.ts';
import { BuntimeError } from '../core/errors.ts';
import { boundResult } from '../core/bounded-result.ts';
import type { ExecEvent, ExecEventLog } from '../core/exec-events.ts';
import type { Logger } from '../core/logger.ts';
import type { ExecutePayload } from '../core/queues.ts';
import type { ExecutionResult } from '../core/schemas.ts';
import type { UsageStore } from '../core/usage.ts';
import type { AgentAccess } from './agent-access.ts';
import type { NodeEvents } from './node-events.ts';
import { OutputCoalescer } from './output-coalescer.ts';
import type { TimeoutBackstop } from './timeout-backstop.ts';

/**
 * Runs executions in session sandboxes: hands them to the agent (its timeout guarded from the
 * host), relays output to the event log when the caller streams, counts them where they ran,
 * and turns the agent's answer into the API's result.
 */
export class Executor {
  constructor(
    private readonly o: {
      access: AgentAccess;
      events: ExecEventLog;
      usage: UsageStore;
      log: Logger;
      /** Most bytes of a stream's stored result event (IDEMPOTENCY_MAX_BYTES). */
      resultMaxBytes: number;
      /** Ends executions from the host when the agent cannot. */
      backstop: TimeoutBackstop;
      /** Told of every execution that ran to a result (webhooks). */
      node?: NodeEvents;
    },
  ) {}

  async run(p: ExecutePayload): Promise<ExecutionResult> {
    const relay = p.stream ? this.relay(p.executionId) : undefined;
    try {
      const result = await this.o.backstop.guard(p.sessionId, p.timeoutMs, (onStarted) =>
        this.o.access.use(p.sessionId, (agent) => agent.run(runRequest(p), relay?.push, onStarted)));
      this.o.usage.execution(p.keyId, result.cpuTime);
      const full = { ...result, executionId: p.executionId };
      this.o.node?.executionFinished(p, full);
      await relay?.finish({ event: 'result', data: full });
      return full;
    } catch (err) {
      if (relay && err instanceof BuntimeError) await relay.finish({ event: 'error', data: err.toBody() });
      throw err;
    }
  }

  async spawn(p: ExecutePayload): Promise<{ executionId: string; pid: number }> {
    const pid = await this.o.access.use(p.sessionId, (agent) => agent.spawn(runRequest(p)));
    this.o.usage.execution(p.keyId, 0);
    return { executionId: p.executionId, pid };
  }

  /**
   * Appends output in order on one chain, coalesced (output-coalescer.ts); the caller awaits
   * only the terminal event, after which nothing more is appended. The result event is stored bounded like a replay, and says
   * `streamTruncated: true` when output events went past the account's stream quota.
   */
  private relay(executionId: string) {
    let chain: Promise<unknown> = Promise.resolve();
    let overQuota = false;
    const enqueue = (make: () => ExecEvent) => {
      chain = chain.then(async () => {
        if ((await this.o.events.append(executionId, make())) === 'over-quota') overQuota = true;
      }).catch((err: unknown) => {
        this.o.log.warn({ err, executionId }, 'could not append an execution event');
      });
      return chain;
    };
    const output = new OutputCoalescer((stream, data) => void enqueue(() => ({ event: stream, data: { data } })));
    let finished = false;
    return {
      // Output the agent sends after the result (the backstop answered first) is not relayed.
      push: (stream: 'stdout' | 'stderr', data: string) => finished || output.push(stream, data),
      finish: (e: ExecEvent) => {
        finished = true;
        output.close();
        return enqueue(() => {
          if (e.event !== 'result') return e;
          const data = boundResult(overQuota ? { ...e.data, streamTruncated: true } : e.data, this.o.resultMaxBytes);
          return { event: 'result', data };
        });
      },
    };
  }
}

function runRequest(p: ExecutePayload): RunRequest {
  return {
    execId: p.executionId, kind: p.kind, source: p.source, files: p.files, env: p.env, cwd: p.workingDir,
    stdin: p.stdin, timeoutMs: p.timeoutMs, maxOutputBytes: p.maxOutputBytes, maxFileBytes: p.maxFileBytes,
    stream: p.stream,
  };
}
