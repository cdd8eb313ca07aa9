import type { Route } from '../route-table.ts';
import { adminRoutes, ADMIN_PREFIX } from './admin.ts';
import { openApiRoutes } from './docs.ts';
import { executeRoutes } from './execute.ts';
import { healthRoutes } from './health.ts';
import { metricsRoutes } from './metrics.ts';
import { sessionRoutes } from './sessions.ts';
import { snapshotRoutes } from './snapshots.ts';
import { usageRoutes } from './usage.ts';
import { webhookRoutes } from './webhooks.ts';
import { workspaceRoutes } from './workspace.ts';

export { ADMIN_PREFIX };
export type { RouteDeps } from './deps.ts';

/**
 * The route table: every public route of the API, declared once, in three groups by where
 * `createApp` mounts them (the order within a group is the order express tries them). To add a
 * route, add one `route({...})` entry to the group of its credentials: it is mounted, validated
 * and documented (`/openapi.json`, `/docs`) from that entry alone.
 */
export const ROUTES = {
  /** Before any authentication: public, or with their own credential (`/metrics`). */
  open: [...healthRoutes, ...metricsRoutes, ...openApiRoutes],
  /** Under `/admin`, behind an admin JWT. */
  admin: adminRoutes,
  /** Behind an API key (some also a session token), the rate limit and the JSON body parser. */
  keyed: [...sessionRoutes, ...snapshotRoutes, ...executeRoutes, ...workspaceRoutes, ...usageRoutes, ...webhookRoutes],
} as const satisfies Record<string, readonly Route[]>;

/** Every route of the table, in mount order. */
export const ROUTE_TABLE: readonly Route[] = [...ROUTES.open, ...ROUTES.admin, ...ROUTES.keyed];
