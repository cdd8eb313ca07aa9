import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { runRequestSchema } from './agent-protocol.ts';
import { egressPolicySchema } from './network-policy.ts';
import { executionResultSchema, fileEntrySchema, processInfoSchema, resourceLimitsSchema } from './schemas.ts';
import { webhookEventSchema } from './webhooks/events.ts';

/**
 * The queue catalogue: the only place where api and runner meet. Every queue, every job with
 * its payload and result schema, its lane and its default deadline. The API enqueues through
 * `JobRpcClient`; the runner's handler maps are typed against {@link NodeJobs} and
 * {@link SessionJobs}, so a job without a handler does not compile, and payloads are parsed
 * again on dequeue.
 *
 * Deadlines: every job carries its caller's deadline (epoch ms on the Redis clock). A runner
 * starts a job only if it can finish in time (`now + budget ≤ deadline`), so a job whose
 * caller was already told it failed never runs.
 */

const sessionRef = z.object({ sessionId: z.string() });
const path = z.string().min(1).max(4096);
/** The API's side of the bytes of this job (`core/transfers.ts`). */
const transferId = z.string();

/**
 * A node's work is split in lanes, each its own queue and worker pool, so that short control
 * operations never wait behind executions and file transfers.
 */
export type Lane = 'exec' | 'data' | 'control';

export interface JobDef {
  payload: z.ZodType;
  result: z.ZodType;
  /** Default time from enqueue to the caller giving up, ms; callers may pass their own. */
  deadlineMs: number;
  /** Time the job needs once started, ms (an execution's timeout); 0 when negligible. */
  budgetMs?: (payload: never) => number;
}

/**
 * What a node needs to make a new session. The node names the session (it may hand out a warm
 * container that already carries its id); `slotId` is the account slot the API reserved for it,
 * which the node turns into the session's own.
 */
const newSession = z.object({
  slotId: z.string(),
  account: z.string(),
  resourceLimits: resourceLimitsSchema,
  metadata: z.record(z.string(), z.unknown()),
  /** The effective egress policy (`effectivePolicy`), stored in the session record. */
  network: egressPolicySchema,
  /** Epoch ms. */
  createdAt: z.number().int(),
  /** Epoch ms. */
  expiresAt: z.number().int(),
});
export type NewSessionPayload = z.infer<typeof newSession>;
const madeSession = z.object({ sessionId: z.string(), nodeId: z.string(), containerId: z.string() });
/** Named snapshot ids: `snap_` + 20 base62 characters. */
const snapshotId = z.string().regex(/^snap_[A-Za-z0-9]{20}$/);

export const sessionJobs = {
  /** Create an empty session on whichever node takes the job. */
  create: { payload: newSession, result: madeSession, deadlineMs: 60_000 },
} as const satisfies Record<string, JobDef>;

/** An execution as a node job: what the agent runs, plus what the runner needs around it. */
export const executePayloadSchema = runRequestSchema.omit({ execId: true, cwd: true }).extend({
  sessionId: z.string(),
  executionId: z.string(),
  /** Absolute, inside /workspace. */
  workingDir: z.string(),
  /** Key that asked for it: the runner that runs it counts it (or counts it expired). */
  keyId: z.string(),
});
export type ExecutePayload = z.infer<typeof executePayloadSchema>;

const execBudget = (p: ExecutePayload) => p.timeoutMs;

export const nodeJobs = {
  execute: { lane: 'exec', payload: executePayloadSchema, result: executionResultSchema, deadlineMs: 40_000, budgetMs: execBudget },
  spawn: {
    lane: 'exec', payload: executePayloadSchema, deadlineMs: 30_000,
    result: z.object({ executionId: z.string(), pid: z.number().int() }),
  },
  delete: { lane: 'control', payload: sessionRef, result: z.object({ deleted: z.boolean() }), deadlineMs: 30_000 },
  kill: {
    lane: 'control', deadlineMs: 15_000,
    payload: sessionRef.extend({ pid: z.number().int().positive().optional() }),
    result: z.object({ killed: z.boolean(), pids: z.array(z.number().int()) }),
  },
  processes: { lane: 'control', payload: sessionRef, result: z.object({ processes: z.array(processInfoSchema) }), deadlineMs: 15_000 },
  stat: {
    lane: 'control', payload: sessionRef, deadlineMs: 15_000,
    result: z.object({ filesCount: z.number().int(), activeProcesses: z.number().int() }),
  },
  fileList: {
    lane: 'control', deadlineMs: 30_000,
    payload: sessionRef.extend({ path, limit: z.number().int(), offset: z.number().int(), cursor: z.string().max(4096).optional() }),
    result: z.object({
      files: z.array(fileEntrySchema), total: z.number().int(), totalExact: z.boolean(), nextCursor: z.string().nullable(),
    }),
  },
  fileDelete: {
    lane: 'control', deadlineMs: 30_000,
    payload: sessionRef.extend({ path }),
    result: z.object({ deleted: z.boolean(), path: z.string() }),
  },
  /** The file's bytes arrive on the transfer; the answer goes back on it too. */
  fileWrite: {
    lane: 'data', deadlineMs: 120_000,
    payload: sessionRef.extend({ path, transferId, maxFileBytes: z.number().int() }),
    result: z.object({ path: z.string(), size: z.number().int() }),
  },
  /** The file's bytes go back on the transfer. */
  fileRead: {
    lane: 'data', deadlineMs: 120_000,
    payload: sessionRef.extend({ path, transferId, maxFileBytes: z.number().int() }),
    result: z.object({ size: z.number().int() }),
  },
  /** A tar arrives on the transfer and is unpacked under `path`. */
  upload: {
    lane: 'data', deadlineMs: 300_000,
    payload: sessionRef.extend({ path, transferId, maxFileBytes: z.number().int() }),
    result: z.object({ files: z.number().int() }),
  },
  /** The tree under `path` goes back on the transfer as a tar. */
  download: {
    lane: 'data', deadlineMs: 300_000,
    payload: sessionRef.extend({ path, transferId, maxFileBytes: z.number().int() }),
    result: z.object({ files: z.number().int() }),
  },
  /**
   * A new session whose workspace is a copy of `sessionId`'s (the source, hosted here) at this
   * instant; the source's writers wait while its blocks are copied.
   */
  fork: { lane: 'data', deadlineMs: 300_000, payload: sessionRef.extend({ session: newSession }), result: madeSession },
  /** A copy of the session's workspace kept as named snapshot `snapshotId` on this node. */
  snapshotCreate: {
    lane: 'data', deadlineMs: 300_000,
    payload: sessionRef.extend({ snapshotId }),
    result: z.object({ sizeBytes: z.number().int(), diskMb: z.number().int() }),
  },
  /** A new session from named snapshot `snapshotId`, kept on this node. */
  snapshotRestore: {
    lane: 'data', deadlineMs: 300_000,
    payload: z.object({ snapshotId, session: newSession }),
    result: madeSession,
  },
  /** Removes the files of named snapshot `snapshotId` from this node. */
  snapshotDelete: {
    lane: 'control', deadlineMs: 30_000,
    payload: z.object({ snapshotId }),
    result: z.object({ deleted: z.boolean() }),
  },
  /** One HTTP exchange with the server user code runs on `port` in the session, relayed on the transfer. */
  preview: {
    lane: 'data', deadlineMs: 60_000,
    payload: sessionRef.extend({ port: z.number().int().min(1).max(65535), transferId }),
    result: z.object({ status: z.number().int() }),
  },
} as const satisfies Record<string, JobDef & { lane: Lane }>;

export type JobCatalogue = Record<string, JobDef>;
export type SessionJobs = typeof sessionJobs;
export type NodeJobs = typeof nodeJobs;
export type Payload<C extends JobCatalogue, J extends keyof C> = z.input<C[J]['payload']>;
export type Result<C extends JobCatalogue, J extends keyof C> = z.infer<C[J]['result']>;

/** The shared queue every node pulls session creates from (BullMQ's pull model balances load). */
export const SESSIONS_QUEUE = 'sessions';

/** The queue of one lane of one node; every job for a session goes to the node hosting it. */
export function nodeQueueName(nodeId: string, lane: Lane): string {
  return lane === 'exec' ? `node-${nodeId}` : `node-${nodeId}-${lane}`;
}

/** The queue a node job goes to. */
export function nodeJobQueue(nodeId: string, job: keyof NodeJobs): string {
  return nodeQueueName(nodeId, nodeJobs[job].lane);
}

/** BullMQ's key prefix under a deployment's Redis prefix. */
export function bullPrefix(redisPrefix: string): string {
  return `${redisPrefix}-bull`;
}

/** The reply channel prefix of API instances under a deployment's Redis prefix. */
export function replyChannelPrefix(redisPrefix: string): string {
  return `${redisPrefix}:replies`;
}

/**
 * Options for every job: no automatic retry (executions are not idempotent). Replies travel by
 * pub/sub, so a finished job is removed at once — a user error (400, 404) finishes its job too,
 * it is an answer; only infrastructure failures fail the job and are kept an hour to inspect.
 */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { age: 3600, count: 1000 },
};

/** Margin the runner keeps between a job's start plus its budget and the deadline, ms. */
export const START_MARGIN_MS = 1_000;
/** How long a caller waits past the deadline for a reply already on its way, ms. */
export const REPLY_MARGIN_MS = 2_000;

/**
 * Webhook deliveries (`core/webhooks/`): not request/response but fire-and-forget jobs, one per
 * event and webhook (job id `<eventId>.<webhookId>`), retried with exponential backoff. Any
 * process may emit; the runners' delivery workers send them.
 */
export const WEBHOOKS_QUEUE = 'webhooks';
export const WEBHOOK_DELIVERY_JOB = 'deliver';
export const webhookDeliverySchema = z.object({
  webhookId: z.string(),
  account: z.string(),
  event: webhookEventSchema,
});
export type WebhookDelivery = z.infer<typeof webhookDeliverySchema>;
