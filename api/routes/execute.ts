import { Router } from 'express';
import type { ExecutionService } from '../execution-service.ts';
import { sendIdempotent, type Idempotency } from '../idempotency.ts';
import { ctx } from '../middleware/request-context.ts';
import { parseLastEventId } from '../exec-stream.ts';
import { SseWriter } from '../sse.ts';
import { executeBody, parse } from '../validation.ts';

export function executeRoutes(executions: ExecutionService, idem: Idempotency): Router {
  const r = Router();
  r.post('/execute', async (req, res) => {
    const body = parse(executeBody, req.body);
    const who = ctx(res).principal!;
    // A stream is resumed with Last-Event-ID, not replayed: Idempotency-Key applies to the rest.
    if (body.stream) await executions.stream(who, body, new SseWriter(res));
    else {
      await sendIdempotent(req, res, idem, 'execute',
        () => (body.background ? executions.spawn(who, body) : executions.execute(who, body)));
    }
  });
  r.get('/executions/:id/events', async (req, res) => {
    const after = parseLastEventId(req.header('last-event-id') ?? (req.query.lastEventId as string | undefined));
    await executions.resume(ctx(res).principal!, req.params.id, after, new SseWriter(res));
  });
  return r;
}
