import { z } from 'zod';
import { executionResultSchema } from '../../core/schemas.ts';
import { parseLastEventId } from '../exec-stream.ts';
import { ON_SESSION, RESPONDED, route } from '../route-table.ts';
import { SseWriter } from '../sse.ts';
import { executeBody } from '../validation.ts';

const spawnedSchema = z.object({ executionId: z.string(), pid: z.number().int() });

/** How the SSE answers of `POST /execute` (`stream: true`) and of a resume look. */
const SSE_FORMAT = 'Server-Sent Events, each with an `id:` (resume after it with `Last-Event-ID`): '
  + '`event: stdout` / `event: stderr` with `data: {"data": "<utf8 chunk>"}`; then one `event: result` whose data is an '
  + 'ExecutionResult, or one `event: error` whose data is the `error` object of the error envelope; then the stream ends. '
  + 'A `: ping` comment every 15 s. The `X-Execution-Id` header names the execution.';

/** Running code: `POST /execute` (answered whole, streamed, or in the background) and resuming a stream. */
export const executeRoutes = [
  route({
    method: 'post', path: '/execute', operationId: 'execute', tag: 'Execute', auth: ['apiKey'],
    summary: 'Run code or a shell command in a session',
    description: 'Exactly one of `code` (run as a fresh Bun process; TypeScript works) and `command` (`/bin/sh -c`). '
      + 'A failing, timed-out or OOM-killed program is a result (`status`), not an API error. `timeout` in s. '
      + 'With `stream: true` the answer is `text/event-stream`; with `background: true` it is `{executionId, pid}` at once. '
      + '`Idempotency-Key` applies to answers that are not streams.',
    body: { json: executeBody, name: 'ExecuteRequest', required: true },
    headers: [{ name: 'Idempotency-Key', description: '1–255 visible ASCII characters: the same key and body within 24 h answer the first response again' }],
    ok: {
      status: 200, description: `The result (or, with \`background\`, the started process). With \`stream: true\`: ${SSE_FORMAT}`,
      json: z.union([executionResultSchema, spawnedSchema]), name: 'ExecuteResponse', raw: 'text/event-stream', replayed: true,
    },
    errors: [...ON_SESSION, 'forbidden', 'idempotency_conflict', 'payload_too_large', 'disk_full'],
    handler: async ({ body, who, res, idempotent, deps }) => {
      // A stream is resumed with Last-Event-ID, not replayed: Idempotency-Key applies to the rest.
      if (body.stream) {
        await deps.executions.stream(who(), body, new SseWriter(res));
        return RESPONDED;
      }
      return idempotent('execute', () => (body.background ? deps.executions.spawn(who(), body) : deps.executions.execute(who(), body)));
    },
  }),
  route({
    method: 'get', path: '/executions/{id}/events', operationId: 'executionEvents', tag: 'Execute', auth: ['apiKey', 'sessionToken'],
    summary: 'Resume an execution\'s event stream',
    description: 'Every event after `Last-Event-ID` (header, or `lastEventId` for clients that cannot set it), once and in order; '
      + 'the stream is kept 15 minutes after its last event.',
    params: z.object({ id: z.string().describe('execution id') }),
    query: z.object({ lastEventId: z.string().optional().describe('the Last-Event-ID header, for clients that cannot send it') }),
    headers: [{ name: 'Last-Event-ID', description: 'the `id` of the last event received' }],
    ok: { status: 200, description: SSE_FORMAT, raw: 'text/event-stream' },
    other: { 204: { description: 'The stream already ended at `Last-Event-ID`: nothing more to send.' } },
    errors: ['not_found'],
    handler: async ({ params, query, req, res, who, deps }) => {
      const after = parseLastEventId(req.header('last-event-id') ?? query.lastEventId);
      await deps.executions.resume(who(), params.id, after, new SseWriter(res));
      return RESPONDED;
    },
  }),
];
