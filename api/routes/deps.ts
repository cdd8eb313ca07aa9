import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { AccountStore } from '../../core/accounts.ts';
import type { EgressLog } from '../../core/egress-log.ts';
import type { NodeDirectory } from '../../core/node-directory.ts';
import type { Plans } from '../../core/plans.ts';
import type { UsageStore } from '../../core/usage.ts';
import type { Webhooks } from '../../core/webhooks/index.ts';
import type { ExecutionService } from '../execution-service.ts';
import type { Idempotency } from '../idempotency.ts';
import type { SessionService } from '../session-service.ts';
import type { SessionTokens } from '../session-tokens.ts';
import type { SnapshotService } from '../snapshot-service.ts';
import type { WorkspaceService } from '../workspace-service.ts';

/**
 * What the handlers of the route table reach: the services, built once by the composition root
 * and handed to every handler (the table itself is static, so it can be documented without them).
 */
export interface RouteDeps {
  redis: Redis;
  nodes: NodeDirectory;
  plans: Plans;
  accounts: AccountStore;
  sessions: SessionService;
  snapshots: SnapshotService;
  sessionTokens: SessionTokens;
  executions: ExecutionService;
  workspace: WorkspaceService;
  idempotency: Idempotency;
  usage: UsageStore;
  egress: EgressLog;
  webhooks: Webhooks;
  /**
   * `/metrics`: the registry, and who may scrape — with `token` (`METRICS_TOKEN`) only its
   * bearer; without, anyone when `open` (loopback listener, no reverse proxy).
   */
  metrics: { registry: Registry; token: string | undefined; open: boolean };
  /** The OpenAPI document `GET /openapi.json` answers, built once from the table. */
  openapi: object;
}
