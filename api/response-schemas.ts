import { z } from 'zod';
import type { Account, KeyInfo } from '../core/accounts.ts';
import type { EgressLogEntry } from '../core/egress-log.ts';
import { PLAN_NAMES, planSchema } from '../core/plans.ts';
import type { AccountDayUsage, DayUsage, UsageReport } from '../core/usage.ts';
import { WEBHOOK_EVENTS, type CreatedWebhook, type DeliveryAttempt, type WebhookView } from '../core/webhooks/index.ts';

/**
 * Schemas of the answers whose shape core declares as a TypeScript interface, for the OpenAPI
 * document. Each is checked against its interface at compile time, both ways ({@link same}), so
 * neither can change without the other.
 */

/** True only when A and B are assignable to each other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Fails to compile unless its argument is `true`. */
type Assert<T extends true> = T;

const isoTime = z.string().describe('ISO-8601');
const planName = z.enum(PLAN_NAMES as [typeof PLAN_NAMES[number], ...typeof PLAN_NAMES[number][]]);

export const accountSchema = z.object({ name: z.string(), plan: planName, createdAt: isoTime });

/** A key as stored: never the key itself. */
export const keyInfoSchema = z.object({
  id: z.string(),
  account: z.string(),
  label: z.string(),
  createdAt: isoTime,
  lastUsedAt: isoTime.nullable(),
  revokedAt: isoTime.nullable(),
});

/** A key just made: the only answer that shows it. */
export const createdKeySchema = z.object({
  id: z.string(),
  key: z.string().describe('btk_ + 40 base62 characters; shown once'),
  account: z.string(),
  plan: planName,
});

const dayUsageSchema = z.object({
  date: z.string().describe('UTC day, YYYY-MM-DD'),
  requests: z.number().int(),
  executions: z.number().int(),
  cpuMs: z.number().int().describe('user + system CPU time of executions, ms'),
  sessionSeconds: z.number().int().describe('time sessions were open, s'),
  expired: z.number().int().describe('requests that outlived their deadline'),
});
const accountDayUsageSchema = dayUsageSchema.extend({
  egressBytes: z.number().int().describe('bytes exchanged with upstreams through the egress proxy'),
});

export const usageReportSchema = z.object({
  account: z.string(),
  plan: planName,
  limits: planSchema,
  days: z.array(accountDayUsageSchema).describe('days with any activity, oldest first, summed over the keys'),
  keys: z.array(keyInfoSchema.omit({ account: true }).extend({ days: z.array(dayUsageSchema) })),
});

export const egressLogEntrySchema = z.object({
  at: isoTime,
  method: z.string().describe('HTTP method; CONNECT for tunnels'),
  host: z.string(),
  port: z.number().int(),
  address: z.string().nullable().describe('the address dialled or refused'),
  decision: z.enum(['allowed', 'denied']),
  reason: z.string().describe('public, allowlist or internal when allowed; else the refusal'),
  bytesIn: z.number().int(),
  bytesOut: z.number().int(),
  durationMs: z.number().int(),
});

export const webhookSchema = z.object({
  id: z.string().describe('wh_ + 20 base62 characters'),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  createdAt: isoTime,
});
export const createdWebhookSchema = webhookSchema.extend({
  secret: z.string().describe('signs deliveries (Buntime-Signature); shown only here'),
});

export const deliveryAttemptSchema = z.object({
  deliveryId: z.string(),
  eventId: z.string(),
  event: z.enum(WEBHOOK_EVENTS),
  attempt: z.number().int().describe('1 for the first try'),
  at: isoTime,
  ok: z.boolean(),
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  durationMs: z.number().int(),
  nextAttemptAt: isoTime.nullable(),
});

export type ShapesMatchInterfaces = [
  Assert<Same<z.output<typeof accountSchema>, Account>>,
  Assert<Same<z.output<typeof keyInfoSchema>, KeyInfo>>,
  Assert<Same<z.output<typeof dayUsageSchema>, DayUsage>>,
  Assert<Same<z.output<typeof accountDayUsageSchema>, AccountDayUsage>>,
  Assert<Same<z.output<typeof usageReportSchema>, UsageReport>>,
  Assert<Same<z.output<typeof egressLogEntrySchema>, EgressLogEntry>>,
  Assert<Same<z.output<typeof webhookSchema>, WebhookView>>,
  Assert<Same<z.output<typeof createdWebhookSchema>, CreatedWebhook>>,
  Assert<Same<z.output<typeof deliveryAttemptSchema>, DeliveryAttempt>>,
];
