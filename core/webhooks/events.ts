import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { executionStatusSchema } from '../schemas.ts';

/**
 * The webhook events: what a receiver gets, declared once. Every delivery's body is one
 * {@link WebhookEvent}; its `id` is the same on every retry (deduplicate on it).
 */

/** Lifecycle events of a session. */
export const SESSION_EVENTS = [
  'session.created', 'session.idle', 'session.sleeping', 'session.woke',
  'session.deleted', 'session.expired', 'session.lost',
] as const;
export type SessionEventType = (typeof SESSION_EVENTS)[number];

/** Every event a webhook may subscribe to. `execution.finished` is sent only to webhooks that name it. */
export const WEBHOOK_EVENTS = [...SESSION_EVENTS, 'execution.finished'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export const webhookEventTypeSchema = z.enum(WEBHOOK_EVENTS);

/** `data` of a session event. */
export const sessionEventDataSchema = z.object({
  sessionId: z.string(),
  /** Node hosting the session, when known. */
  nodeId: z.string().optional(),
  /** `session.woke`: the state it woke from. */
  from: z.enum(['idle', 'deep-sleep']).optional(),
  /** `session.created`: ISO-8601. */
  createdAt: z.string().optional(),
  /** `session.created`: ISO-8601. */
  expiresAt: z.string().optional(),
});
export type SessionEventData = z.infer<typeof sessionEventDataSchema>;

/** `data` of `execution.finished`: how it ended and when, never its output. */
export const executionEventDataSchema = z.object({
  sessionId: z.string(),
  executionId: z.string(),
  status: executionStatusSchema,
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  /** ISO-8601. */
  startedAt: z.string(),
  /** ISO-8601. */
  finishedAt: z.string(),
  /** Wall time, ms. */
  executionTime: z.number().int(),
  /** User + system CPU time, ms. */
  cpuTime: z.number().int(),
  /** Peak resident set size, bytes. */
  memoryUsed: z.number().int(),
});
export type ExecutionEventData = z.infer<typeof executionEventDataSchema>;

/** The body of every delivery. */
export const webhookEventSchema = z.object({
  /** `evt_` + 24 hex characters; the same on every attempt. */
  id: z.string(),
  type: webhookEventTypeSchema,
  /** When it happened, ISO-8601. */
  createdAt: z.string(),
  data: z.union([executionEventDataSchema, sessionEventDataSchema]),
});
export type WebhookEvent = z.infer<typeof webhookEventSchema>;

/** A new event id. */
export function newEventId(): string {
  return `evt_${randomBytes(12).toString('hex')}`;
}
