import { BuntimeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { SessionStore } from '../core/session-store.ts';
import { AgentGoneError } from './agent-channel.ts';
import type { AgentClient } from './agent-client.ts';
import type { IdleKeeper } from './idle-keeper.ts';
import type { SandboxDriver } from './sandbox-driver.ts';
import type { Sandboxes } from './sandboxes.ts';

/**
 * The one way node jobs reach a session's agent: through the lifecycle (an idle session is
 * thawed, a sleeping one revived, no transition overlaps the use) and with one mapping of an
 * agent that went away mid-request to the API's errors — deleted meanwhile (404), its container
 * OOM-killed (507), restarted (503, retry).
 */
export class AgentAccess {
  constructor(
    private readonly o: {
      sandboxes: Sandboxes;
      lifecycle: IdleKeeper;
      store: SessionStore;
      driver: SandboxDriver;
      log: Logger;
    },
  ) {}

  async use<T>(sessionId: string, fn: (agent: AgentClient) => Promise<T>): Promise<T> {
    try {
      return await this.o.lifecycle.use(sessionId, async () => fn(await this.o.sandboxes.agent(sessionId)));
    } catch (err) {
      if (!(err instanceof AgentGoneError)) throw err;
      throw await this.gone(sessionId, err);
    }
  }

  private async gone(sessionId: string, err: AgentGoneError): Promise<BuntimeError> {
    const rec = await this.o.store.get(sessionId);
    if (!rec) return new BuntimeError('session_not_found', 'the session was deleted', { details: { sessionId } });
    this.o.log.warn({ sessionId, reason: err.message }, 'agent went away during a request');
    const containerId = await this.o.sandboxes.containerOf(sessionId);
    const diagnosis = containerId ? await this.o.driver.diagnose(containerId) : undefined;
    if (diagnosis?.oomKilled) {
      return new BuntimeError('memory_limit_exceeded', 'the session container ran out of memory', { details: { sessionId } });
    }
    return new BuntimeError('service_unavailable', 'the session sandbox restarted; retry', {
      details: { sessionId }, retryAfterSec: 1,
    });
  }
}
