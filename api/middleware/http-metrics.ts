import type { NextFunction, Request, Response } from 'express';
import type { ApiMetrics } from '../api-metrics.ts';

/** Route label of a request no route took (unknown paths, and answers given before routing: 401, 429). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts every request and its latency by method, route template and status when its answer
 * ends (or its connection closes: an abandoned stream counts too). Paths never become labels:
 * only the template of the route that took the request.
 */
export function httpMetrics(metrics: ApiMetrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const route = captureRoute(req);
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.request(req.method, route.template ?? UNMATCHED_ROUTE, res.statusCode, seconds);
    });
    next();
  };
}

/**
 * The template of the route that takes `req`, with its router's mount path. Express sets
 * `req.route` when a route starts handling the request, but restores `req.baseUrl` when an error
 * leaves a mounted router, so the template is taken at that moment, through a setter.
 */
function captureRoute(req: Request): { template?: string } {
  const captured: { template?: string } = {};
  let route: Request['route'];
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: Request['route']) => {
      route = value;
      if (typeof value?.path === 'string') captured.template = `${req.baseUrl}${value.path}`;
    },
  });
  return captured;
}
