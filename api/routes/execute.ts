import { Router } from 'express';
import type { ExecutionService } from '../execution-service.ts';
import { ctx } from '../middleware/request-context.ts';
import { parseLastEventId } from '../exec-stream.ts';
import { SseWriter } from '../sse.ts';
import { executeBody, parse } from '../validation.ts';

export function executeRoutes(executions: ExecutionService): Router {
  const r = Router();
  r.post('/execute', async (req, res) => {
    const body = parse(executeBody, req.body);
    const who = ctx(res).principal!;
    if (body.stream) await executions.stream(who, body, new SseWriter(res));
    else if (body.background) res.json(await executions.spawn(who, body));
    else res.json(await executions.execute(who, body));
  });
  r.get('/executions/:id/events', async (req, res) => {
    const after = parseLastEventId(req.header('last-event-id') ?? (req.query.lastEventId as string | undefined));
    await executions.resume(ctx(res).principal!, req.params.id, after, new SseWriter(res));
  });
  return r;
}
