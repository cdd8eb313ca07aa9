import express, { type NextFunction, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import type { AccountStore } from '../core/accounts.ts';
import type { Logger } from '../core/logger.ts';
import type { Plans, PlanName } from '../core/plans.ts';
import { NodeDirectory } from '../core/node-directory.ts';
import type { Keys } from '../core/redis.ts';
import type { UsageStore } from '../core/usage.ts';
import type { ExecutionService } from './execution-service.ts';
import type { Idempotency } from './idempotency.ts';
import { bearerAuth } from './middleware/auth.ts';
import { errorHandler, notFound } from './middleware/error-handler.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { ctx, requestContext } from './middleware/request-context.ts';
import { sessionScope } from './middleware/session-scope.ts';
import { usageMeter } from './middleware/usage-meter.ts';
import { adminRoutes } from './routes/admin.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { executeRoutes } from './routes/execute.ts';
import { healthRoutes } from './routes/health.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { snapshotRoutes } from './routes/snapshots.ts';
import { usageRoutes } from './routes/usage.ts';
import type { SessionService } from './session-service.ts';
import type { SessionTokens } from './session-tokens.ts';
import type { SnapshotService } from './snapshot-service.ts';
import { previewRoutes } from './routes/preview.ts';
import { workspaceRoutes } from './routes/workspace.ts';
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
  usage: UsageStore;
  idempotency: Idempotency;
  sessionTokens: SessionTokens;
  /** `ADMIN_JWT_SECRET`; unset, `/admin/*` answers 401 to everyone. */
  adminSecret: string | undefined;
  /**
   * `TRUST_PROXY`: behind a reverse proxy, the client's address comes from `X-Forwarded-For`
   * (express's `trust proxy`); otherwise it is the connection's peer and the header is ignored.
   */
  trustProxy: boolean;
  log: Logger;
}

/** Builds the express app without listening, so tests can drive it in-process. */
export function createApp(d: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', d.trustProxy);
  app.use(requestContext(d.log));
  app.use(healthRoutes(d.redis, new NodeDirectory(d.redis, d.keys)));
  app.use(dashboardRoutes()); // public static page; it calls the API with the key pasted into it
  // Admin JWTs, not API keys: mounted before key authentication, with its own 401s and 404s.
  app.use('/admin', adminRoutes({ secret: d.adminSecret, accounts: d.accounts, usage: d.usage, plans: d.plans }));
  // Authenticate and meter before reading a body: unauthenticated callers cannot make us parse.
  app.use(bearerAuth(d.accounts, d.sessionTokens));
  app.use(usageMeter(d.usage));
  app.use(rateLimit(d.redis, d.keys, d.plans));
  app.use(sessionScope((id) => d.executions.sessionOf(id)));
  // Preview requests carry whatever body the session's web app takes: before the JSON parser.
  app.use(previewRoutes(d.workspace, d.previewPort));
  app.use(bodyParserByPlan(d.plans));
  app.use(sessionRoutes(d.sessions, d.sessionTokens, d.idempotency));
  app.use(snapshotRoutes(d.snapshots));
  app.use(executeRoutes(d.executions, d.idempotency));
  app.use(workspaceRoutes(d.workspace, d.plans));
  app.use(usageRoutes({ accounts: d.accounts, usage: d.usage, plans: d.plans }));
  app.use(notFound());
  app.use(errorHandler());
  return app;
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
