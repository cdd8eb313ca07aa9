import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import {
  executionResultSchema,
  fileEntrySchema,
  fileInputSchema,
  processInfoSchema,
  resourceLimitsSchema,
} from './schemas.ts';

/**
 * The queue catalogue: the only place where api and runner meet. Every queue, every job with
 * its payload and result schema, and the job options. The API enqueues through
 * {@link JobRpcClient}; the runner's handler maps are typed against {@link NodeJobs} and
 * {@link SessionJobs}, so a job without a handler does not compile, and payloads are parsed
 * again on dequeue.
 */

const sessionRef = z.object({ sessionId: z.string() });
const path = z.string().min(1).max(4096);

export const sessionJobs = {
  /**
   * Create a session on whichever node takes the job. The node names the session (it may hand
   * out a warm container that already carries its id); `slotId` is the account slot the API
   * reserved for it, which the node turns into the session's own.
   */
  create: {
    payload: z.object({
      slotId: z.string(),
      account: z.string(),
      resourceLimits: resourceLimitsSchema,
      metadata: z.record(z.string(), z.unknown()),
      /** Epoch ms. */
      createdAt: z.number().int(),
      /** Epoch ms. */
      expiresAt: z.number().int(),
    }),
    result: z.object({ sessionId: z.string(), nodeId: z.string(), containerId: z.string() }),
  },
} as const;

export const executePayloadSchema = z.object({
  sessionId: z.string(),
  executionId: z.string(),
  kind: z.enum(['code', 'command']),
  source: z.string(),
  files: z.array(fileInputSchema),
  env: z.record(z.string(), z.string()),
  timeoutMs: z.number().int().positive(),
  workingDir: z.string(),
  stdin: z.string().nullable(),
  /** Publish output chunks to the execution's event stream as they arrive. */
  stream: z.boolean(),
  maxOutputBytes: z.number().int().positive(),
  /** Largest file the caller's plan allows, bytes. */
  maxFileBytes: z.number().int().positive(),
});
export type ExecutePayload = z.infer<typeof executePayloadSchema>;

export const nodeJobs = {
  execute: { payload: executePayloadSchema, result: executionResultSchema },
  spawn: {
    payload: executePayloadSchema,
    result: z.object({ executionId: z.string(), pid: z.number().int() }),
  },
  delete: { payload: sessionRef, result: z.object({ deleted: z.boolean() }) },
  kill: {
    payload: sessionRef.extend({ pid: z.number().int().positive().optional() }),
    result: z.object({ killed: z.boolean(), pids: z.array(z.number().int()) }),
  },
  processes: { payload: sessionRef, result: z.object({ processes: z.array(processInfoSchema) }) },
  stat: {
    payload: sessionRef,
    result: z.object({ filesCount: z.number().int(), activeProcesses: z.number().int() }),
  },
  fileWrite: {
    payload: sessionRef.extend({ path, contentBase64: z.string(), maxFileBytes: z.number().int() }),
    result: z.object({ path: z.string(), size: z.number().int() }),
  },
  fileRead: {
    payload: sessionRef.extend({ path, maxFileBytes: z.number().int() }),
    result: z.object({ contentBase64: z.string() }),
  },
  fileList: {
    payload: sessionRef.extend({ path, limit: z.number().int(), offset: z.number().int() }),
    result: z.object({ files: z.array(fileEntrySchema), total: z.number().int() }),
  },
  fileDelete: {
    payload: sessionRef.extend({ path }),
    result: z.object({ deleted: z.boolean(), path: z.string() }),
  },
  upload: {
    payload: sessionRef.extend({ path, tarBase64: z.string(), maxFileBytes: z.number().int() }),
    result: z.object({ files: z.number().int() }),
  },
  download: {
    payload: sessionRef.extend({ path }),
    result: z.object({ tarBase64: z.string() }),
  },
  /** One HTTP request to a server user code runs in the session (preview URLs). */
  preview: {
    payload: sessionRef.extend({
      port: z.number().int().min(1).max(65535),
      method: z.string(),
      path: z.string().startsWith('/'),
      headers: z.record(z.string(), z.string()),
      bodyBase64: z.string(),
    }),
    result: z.object({ status: z.number().int(), headers: z.record(z.string(), z.string()), bodyBase64: z.string() }),
  },
} as const;

export type JobDef = { payload: z.ZodType; result: z.ZodType };
export type JobCatalogue = Record<string, JobDef>;
export type SessionJobs = typeof sessionJobs;
export type NodeJobs = typeof nodeJobs;
export type Payload<C extends JobCatalogue, J extends keyof C> = z.input<C[J]['payload']>;
export type Result<C extends JobCatalogue, J extends keyof C> = z.infer<C[J]['result']>;

/** The shared queue every node pulls session creates from (BullMQ's pull model balances load). */
export const SESSIONS_QUEUE = 'sessions';

/** The queue of one node; every job for a session goes to the node hosting it. */
export function nodeQueueName(nodeId: string): string {
  return `node-${nodeId}`;
}

/**
 * Options for every job: no automatic retry (executions are not idempotent). Replies travel by
 * pub/sub, so a finished job is removed at once; failed ones are kept an hour for inspection.
 */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { age: 3600, count: 1000 },
};
