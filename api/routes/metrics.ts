import { Router } from 'express';
import type { Registry } from 'prom-client';
import { BuntimeError } from '../../core/errors.ts';
import { metricsAllowed } from '../../core/metrics.ts';

export interface MetricsRouteOptions {
  registry: Registry;
  /** `METRICS_TOKEN`: when set, scrapes must bring it as a bearer token. */
  token: string | undefined;
  /**
   * Without a token, whether anyone may scrape: only when the API listens on loopback and no
   * reverse proxy relays outside callers to it (`TRUST_PROXY`).
   */
  open: boolean;
}

/** `GET /metrics`: the Prometheus text format, before API-key authentication (its own token). */
export function metricsRoutes(o: MetricsRouteOptions): Router {
  const r = Router();
  r.get('/metrics', async (req, res) => {
    if (!metricsAllowed(req.header('authorization'), o.token, o.open)) {
      const why = o.token ? 'a valid METRICS_TOKEN bearer token is required' : 'set METRICS_TOKEN to scrape an API that is not on loopback';
      throw new BuntimeError('unauthorized', why);
    }
    res.setHeader('Content-Type', o.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(await o.registry.metrics());
  });
  return r;
}
