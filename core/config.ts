import { hostname } from 'node:os';
import { z } from 'zod';
import { parseInternalHosts } from './internal-hosts.ts';
import { isLoopbackHost } from './net/loopback.ts';
import { RETRY_WINDOW_MS, retrySpanMs } from './webhooks/retry.ts';

const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

/** `name=address[:port],…` as in EGRESS_INTERNAL_HOSTS, every problem listed under `variable`. */
function internalHosts(variable: string) {
  return z.string().default('').transform((spec, ctx) => {
    try {
      return parseInternalHosts(spec);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^EGRESS_INTERNAL_HOSTS: /, `${variable}: `) });
      return z.NEVER;
    }
  });
}

const schema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6399'),
  REDIS_PREFIX: z.string().regex(/^[a-z0-9_-]+$/i).default('bt'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PLANS_FILE: z.string().default(new URL('../config/plans.json', import.meta.url).pathname),
  ADMIN_JWT_SECRET: z.string().min(16).optional(),
  /** Longest lifetime an admin JWT may have, s: one whose `exp` is further ahead is refused. */
  ADMIN_TOKEN_MAX_TTL: z.coerce.number().int().min(60).default(86_400),
  /** Failed authentications one client address may make per minute before it gets 429s; 0 = no limit. */
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).default(60),
  SESSION_TOKEN_SECRET: z.string().min(32).optional(),
  PUBLIC_URL: z.string().url().optional(),
  NODE_ID: z.string().regex(/^[a-z0-9_-]{1,40}$/i).default(hostname().replace(/[^a-z0-9_-]/gi, '').slice(0, 40) || 'node'),
  DOCKER_SOCKET: z.string().default('/var/run/docker.sock'),
  SANDBOX_IMAGE: z.string().default('buntime-sandbox:0.1.0'),
  SANDBOX_RUNTIME: z.string().regex(/^[a-z0-9_.-]+$/i).default('runc'),
  /** Seccomp profile of session containers (Docker's JSON format); default: the shipped one for the runtime. */
  SECCOMP_PROFILE: z.string().min(1).optional(),
  SANDBOX_PIDS_LIMIT: z.coerce.number().int().min(16).max(4096).default(256),
  SANDBOX_TMP_MB: z.coerce.number().int().min(1).max(1024).default(64),
  NODE_SESSION_CAPACITY: z.coerce.number().int().min(1).default(200),
  /** Executions one node runs at once, all accounts together (a ceiling for the node, not the fairness). */
  NODE_EXEC_CONCURRENCY: z.coerce.number().int().min(1).default(256),
  /** File transfers and preview exchanges one node runs at once. */
  NODE_DATA_CONCURRENCY: z.coerce.number().int().min(1).default(32),
  /** Short control operations (stat, ps, kill, list, delete) one node runs at once. */
  NODE_CONTROL_CONCURRENCY: z.coerce.number().int().min(1).default(32),
  /** Host directory of the sessions' data sockets (one root-only subdirectory each). */
  SOCKET_DIR: z.string().default('/run/buntime/sockets'),
  /** Where the runner's data plane (file contents, preview traffic) listens for the API. */
  TRANSFER_HOST: z.string().default('127.0.0.1'),
  TRANSFER_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** URL API instances use to reach this runner's data plane (default http://TRANSFER_HOST:port). */
  TRANSFER_URL: z.string().url().optional(),
  /** Pre-started sandboxes of the default shape each node keeps ready for creates. */
  WARM_POOL_SIZE: z.coerce.number().int().min(0).max(64).default(2),
  /** Seconds without a request after which a session's container is paused (state `idle`). */
  IDLE_AFTER: z.coerce.number().int().min(1).default(300),
  /** Port inside a session that its previewUrl reaches (a server user code runs there). */
  PREVIEW_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  /**
   * Domain whose subdomains serve previews, one origin per session (`{previewId}.PREVIEW_DOMAIN`,
   * optionally with `:port`); unset, previews are served under /preview/{sessionId}/ instead.
   */
  PREVIEW_DOMAIN: z.string().toLowerCase().regex(/^(?=.{1,200}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(:\d{1,5})?$/, 'a DNS name with at least two labels, optionally :port').optional(),
  /** Scheme of preview URLs on PREVIEW_DOMAIN (https in production; http for local tests). */
  PREVIEW_SCHEME: z.enum(['https', 'http']).default('https'),
  /** How long a session's preview server may take to start answering, ms (then 504); under the preview job's 60 s. */
  PREVIEW_FIRST_BYTE_MS: z.coerce.number().int().min(100).max(50_000).default(30_000),
  /** Seconds without a request after which a session's container is removed and its workspace unmounted. */
  SLEEP_AFTER: z.coerce.number().int().min(1).default(1800),
  /** Named snapshots a node keeps (`<snapshotId>.img` and `.json`). */
  SNAPSHOT_DIR: z.string().default(new URL('../.buntime/snapshots', import.meta.url).pathname),
  /** Session workspaces (runner host): each node's sparse ext4 images, metadata and mountpoints in `<dir>/<NODE_ID>`. */
  WORKSPACE_DIR: z.string().default('/var/lib/buntime/workspaces'),
  /** Host-wide registry of session uids, shared by every deployment on the host. */
  UID_DIR: z.string().default('/var/lib/buntime/uids'),
  /** Most quota (MB) a node's workspaces may add up to; 0 = 90 % of WORKSPACE_DIR's filesystem. */
  NODE_DISK_BUDGET_MB: z.coerce.number().int().min(0).default(0),
  MAX_OUTPUT_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  /** Most bytes of a response an idempotent replay (and a stream's result event) keeps. */
  IDEMPOTENCY_MAX_BYTES: z.coerce.number().int().min(4096).default(64 * 1024),
  /** Bytes of streamed output an account may keep in Redis at once (events kept for resumption). */
  STREAM_QUOTA_BYTES: z.coerce.number().int().min(65_536).default(64 * 1024 * 1024),
  REQUEST_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /**
   * Deadline of a file transfer (write, read, upload, download), ms; past it the transfer is cut
   * and its caller told 408. Unset: the queue catalogue's default per job (2–5 minutes).
   */
  TRANSFER_DEADLINE_MS: z.coerce.number().int().min(1000).optional(),
  /**
   * Reverse proxies in front of the API whose `X-Forwarded-For` is trusted: `false` (0, none:
   * the peer address is the client), `true` (1) or a count of hops.
   */
  TRUST_PROXY: z.string().regex(/^(true|false|\d{1,2})$/, 'true, false or a number of proxies')
    .default('false').transform((v) => (v === 'true' ? 1 : v === 'false' ? 0 : Number(v))),
  // Egress policy proxy (runner/egress/); see .env.example.
  EGRESS_INTERNAL_HOSTS: internalHosts('EGRESS_INTERNAL_HOSTS'),
  EGRESS_RESOLVER: z.enum(['system', 'static']).default('system'),
  /** The static resolver's answers, `name=address,…` (no port); its addresses are checked like any DNS answer. */
  EGRESS_STATIC_HOSTS: z.string().default('').transform((spec, ctx) => {
    try {
      const hosts = parseInternalHosts(spec);
      if (hosts.some((h) => h.port !== undefined)) throw new Error('EGRESS_STATIC_HOSTS: entries take no port');
      return hosts.map(({ name, address }) => ({ name, address }));
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message.replace('EGRESS_INTERNAL_HOSTS', 'EGRESS_STATIC_HOSTS') });
      return z.NEVER;
    }
  }),
  EGRESS_DNS_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  EGRESS_TEST_GUARD: bool.default(false),
  EGRESS_MAX_CONNECTIONS_PER_SESSION: z.coerce.number().int().min(1).max(10_000).default(64),
  EGRESS_MAX_CONNECTIONS_PER_NODE: z.coerce.number().int().min(1).default(4096),
  EGRESS_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  NPM_REGISTRY_URL: z.string().url().optional(),
  // Metrics (Prometheus text format); see .env.example.
  /** Runner: port of the node's own /metrics listener; unset: no listener (0: any free port). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Bearer token of /metrics (API and runner); required on a listener that is not loopback. */
  METRICS_TOKEN: z.string().min(16).optional(),
  // Webhooks; see .env.example.
  WEBHOOK_INTERNAL_HOSTS: internalHosts('WEBHOOK_INTERNAL_HOSTS'),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(11),
  WEBHOOK_BACKOFF_BASE_MS: z.coerce.number().int().min(100).default(60_000),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  WEBHOOK_MAX_PENDING: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
});

/** Rules across variables, each problem listed with the others. */
function crossChecks(c: z.infer<typeof schema>, ctx: z.RefinementCtx): void {
  if (c.METRICS_PORT !== undefined && !c.METRICS_TOKEN && !isLoopbackHost(c.METRICS_HOST)) {
    ctx.addIssue({ code: 'custom', path: ['METRICS_TOKEN'], message: `required when METRICS_HOST (${c.METRICS_HOST}) is not loopback` });
  }
  const span = retrySpanMs({ maxAttempts: c.WEBHOOK_MAX_ATTEMPTS, baseMs: c.WEBHOOK_BACKOFF_BASE_MS });
  if (span > RETRY_WINDOW_MS) {
    ctx.addIssue({
      code: 'custom', path: ['WEBHOOK_MAX_ATTEMPTS'],
      message: `with WEBHOOK_BACKOFF_BASE_MS=${c.WEBHOOK_BACKOFF_BASE_MS} the retries would span ${Math.round(span / 3_600_000)} h; at most 24 h`,
    });
  }
}

/**
 * The shipped seccomp profile for an OCI runtime (images/seccomp/): gVisor gets a variant of
 * its own (see images/seccomp/derive.ts for why).
 */
export function defaultSeccompProfile(runtime: string): string {
  const file = runtime === 'runsc' ? 'profile-gvisor.json' : 'profile.json';
  return new URL(`../images/seccomp/${file}`, import.meta.url).pathname;
}

const withDefaults = schema.superRefine(crossChecks).transform((c) => ({
  ...c,
  SECCOMP_PROFILE: c.SECCOMP_PROFILE ?? defaultSeccompProfile(c.SANDBOX_RUNTIME),
}));

/** Parsed, frozen configuration. Field names follow the environment variables. */
export type Config = Readonly<z.infer<typeof withDefaults>>;

/**
 * Parses the environment once. Fails with every problem listed, so a misconfigured process
 * never starts half-way.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = withDefaults.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}
