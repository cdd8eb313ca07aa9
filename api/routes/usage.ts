import { z } from 'zod';
import { usageReport } from '../../core/usage.ts';
import { usageReportSchema } from '../response-schemas.ts';
import { route } from '../route-table.ts';

/** `?days=N`: how many UTC days back, today included (default 30, at most 400). */
export const usageQuery = z.object({
  days: z.coerce.number().int().min(1).max(400).default(30).describe('UTC days back, today included'),
});

/** `GET /usage`: the caller's account, its plan's limits and its daily usage per key. */
export const usageRoutes = [
  route({
    method: 'get', path: '/usage', operationId: 'getUsage', tag: 'Account', auth: ['apiKey'],
    summary: 'The account\'s plan and daily usage',
    query: usageQuery,
    ok: { status: 200, description: 'The plan\'s limits and the days with any activity.', json: usageReportSchema, name: 'UsageReport' },
    errors: [],
    handler: ({ query, who, deps }) => usageReport(deps, who().account, query.days),
  }),
];
