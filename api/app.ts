import { readFileSync } from 'node:fs';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Redis } from 'ioredis';
import type { AccountStore } from '../core/accounts.ts';
import type { EgressLog } from '../core/egress-log.ts';
import type { Logger } from '../core/logger.ts';
import type { Plans, PlanName } from '../core/plans.ts';
import { NodeDirectory } from '../core/node-directory.ts';
import type { Keys } from '../core/redis.ts';
import type { UsageStore } from '../core/usage.ts';
import type { Webhooks } from '../core/webhooks/index.ts';
import type { ApiMetrics } from './api-metrics.ts';
import type { ExecutionService } from './execution-service.ts';
import type { Idempotency } from './idempotency.ts';
import type { AuthFailureLimit } from './auth-failures.ts';
import { bearerAuth } from './middleware/auth.ts';
import { errorHandler, notFound } from './middleware/error-handler.ts';
import { httpMetrics } from './middleware/http-metrics.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { ctx, requestContext } from './middleware/request-context.ts';
import { sessionScope } from './middleware/session-scope.ts';
import { usageMeter } from './middleware/usage-meter.ts';
import { adminAuth } from './middleware/admin-auth.ts';
import { openApiDocument } from './openapi.ts';
import { mountRoutes } from './route-table.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { docsPage } from './routes/docs.ts';
import { ADMIN_PREFIX, ROUTE_TABLE, ROUTES, type RouteDeps } from './routes/index.ts';
import type { SessionService } from './session-service.ts';
import type { SessionTokens } from './session-tokens.ts';
import type { PreviewSite } from './preview-site.ts';
import { previewHostRoutes, previewRoutes, type PreviewDeps } from './routes/preview.ts';
import type { SnapshotService } from './snapshot-service.ts';
import type { WorkspaceService } from './workspace-service.ts';

export interface AppDeps {
  redis: Redis;
  keys: Keys;
  plans: Plans;
  accounts: AccountStore;
  sessions: SessionService;
  snapshots: SnapshotService;
  executions: ExecutionService;
  workspace: WorkspaceService;
  /** Port inside a session that its preview URL reaches. */
  previewPort: number;
  /** Where previews are served: their own origins (`PREVIEW_DOMAIN`) or /preview/ paths. */
  previewSite: PreviewSite;
  /** Failed authentications per client address. */
  authFailures: AuthFailureLimit;
  /** `ADMIN_TOKEN_MAX_TTL`, s. */
  adminTokenMaxTtlSec: number;
  usage: UsageStore;
  /** Sessions' egress logs and the accounts' egress byte counters. */
  egress: EgressLog;
  idempotency: Idempotency;
  sessionTokens: SessionTokens;
  /** `ADMIN_JWT_SECRET`; unset, `/admin/*` answers 401 to everyone. */
  adminSecret: string | undefined;
  /**
   * `TRUST_PROXY`: behind this many reverse proxies, the client's address comes from
   * `X-Forwarded-For` (express's `trust proxy` hop count: the address the outermost trusted
   * proxy saw, never one the client wrote in front of it); 0: it is the connection's peer and
   * the header is ignored.
   */
  trustProxy: number;
  log: Logger;
  webhooks: Webhooks;
  metrics: ApiMetrics;
  /**
   * `/metrics` access: with `token` (`METRICS_TOKEN`) only as its bearer; without, only when
   * `open` (the listener is on loopback and no reverse proxy relays to it).
   */
  metricsAccess: { token: string | undefined; open: boolean };
}

/** Builds the express app without listening, so tests can drive it in-process. */
export function createApp(d: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', d.trustProxy === 0 ? false : d.trustProxy);
  app.use(requestContext(d.log));
  app.use(httpMetrics(d.metrics));
  const auth = bearerAuth({ accounts: d.accounts, tokens: d.sessionTokens, failures: d.authFailures, site: d.previewSite });
  const preview: PreviewDeps = {
    workspace: d.workspace, site: d.previewSite, port: d.previewPort, sessionOfPreview: (id) => d.sessions.sessionOfPreview(id),
  };
  const deps = routeDeps(d);
  // A preview's own origin serves that preview and nothing of the API.
  if (d.previewSite.hostMode) app.use(previewHost(d, auth, preview));
  mountRoutes(app, ROUTES.open, deps); // public, or their own credential (/metrics)
  app.use(dashboardRoutes()); // public static page; it calls the API with the key pasted into it
  app.use(docsPage()); // public static page rendering /openapi.json
  // Admin JWTs, not API keys: mounted before key authentication, with its own 401s and 404s.
  app.use(ADMIN_PREFIX, adminRouter(d, deps));
  // Authenticate and meter before reading a body: unauthenticated callers cannot make us parse.
  app.use(auth);
  app.use(usageMeter(d.usage));
  app.use(rateLimit(d.redis, d.keys, d.plans));
  app.use(sessionScope((id) => d.executions.sessionOf(id)));
  // Preview requests carry whatever body the session's web app takes: before the JSON parser.
  app.use(previewRoutes(preview));
  app.use(bodyParserByPlan(d.plans));
  mountRoutes(app, ROUTES.keyed, deps);
  app.use(notFound());
  app.use(errorHandler());
  return app;
}

/** The service's version, for the OpenAPI document. */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** What the route table's handlers reach; the OpenAPI document is built here, once. */
function routeDeps(d: AppDeps): RouteDeps {
  return {
    redis: d.redis, nodes: new NodeDirectory(d.redis, d.keys), plans: d.plans, accounts: d.accounts, sessions: d.sessions, snapshots: d.snapshots,
    sessionTokens: d.sessionTokens, executions: d.executions, workspace: d.workspace, idempotency: d.idempotency, usage: d.usage,
    egress: d.egress, webhooks: d.webhooks, metrics: { registry: d.metrics.registry, ...d.metricsAccess },
    openapi: openApiDocument(ROUTE_TABLE, VERSION),
  };
}

/** `/admin/*`: the admin JWT, small JSON bodies, the admin routes, and its own 404 after the token check. */
function adminRouter(d: AppDeps, deps: RouteDeps): express.Router {
  const r = express.Router();
  r.use(adminAuth(d.adminSecret, d.adminTokenMaxTtlSec, d.authFailures));
  r.use(express.json({ limit: '16kb' }));
  mountRoutes(r, ROUTES.admin, deps, ADMIN_PREFIX);
  r.use(notFound());
  return r;
}

/** Every request to the preview domain: authenticated, metered and relayed, or an error. */
function previewHost(d: AppDeps, auth: RequestHandler, preview: PreviewDeps): RequestHandler {
  const chain = express.Router();
  chain.use(auth, usageMeter(d.usage), rateLimit(d.redis, d.keys, d.plans), previewHostRoutes(preview), notFound(), errorHandler());
  return (req, res, next) => (d.previewSite.hostPreviewId(req) === undefined ? next() : chain(req, res, next));
}

/**
 * JSON bodies up to what the caller's plan can use: its largest file, base64-encoded, plus room
 * for the rest of the request.
 */
function bodyParserByPlan(plans: Plans) {
  const parsers = new Map<PlanName, ReturnType<typeof express.json>>();
  for (const [name, plan] of Object.entries(plans) as Array<[PlanName, Plans[PlanName]]>) {
    parsers.set(name, express.json({ limit: Math.ceil((plan.maxFileBytes * 4) / 3) + 1024 * 1024 }));
  }
  return (req: Request, res: Response, next: NextFunction) => parsers.get(ctx(res).principal!.plan)!(req, res, next);
}
