import { BuntimeError } from '../../core/errors.ts';
import { metricsAllowed } from '../../core/metrics.ts';
import { RESPONDED, route } from '../route-table.ts';

/** `GET /metrics`: the Prometheus text format, before API-key authentication (its own token). */
export const metricsRoutes = [
  route({
    method: 'get', path: '/metrics', operationId: 'metrics', tag: 'Service', auth: ['metricsToken'],
    summary: 'Prometheus metrics',
    description: 'Requests by route template and status, executions by outcome, Redis errors. With `METRICS_TOKEN` set, only as its '
      + 'bearer; without, only when the API listens on loopback and no reverse proxy relays to it.',
    ok: { status: 200, description: 'The Prometheus text exposition format.', raw: 'text/plain' },
    errors: [],
    handler: async ({ req, res, deps }) => {
      const m = deps.metrics;
      if (!metricsAllowed(req.header('authorization'), m.token, m.open)) {
        const why = m.token ? 'a valid METRICS_TOKEN bearer token is required' : 'set METRICS_TOKEN to scrape an API that is not on loopback';
        throw new BuntimeError('unauthorized', why);
      }
      res.setHeader('Content-Type', m.registry.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.send(await m.registry.metrics());
      return RESPONDED;
    },
  }),
];
