import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { planNetworkSchema } from './network-policy.ts';
import { resourceLimitsSchema as limits } from './schemas.ts';

/** One plan: its rate limit, session cap, resource defaults and ceilings, egress (config/plans.json). */
export const planSchema = z.object({
  requestsPerMinute: z.number().int().min(1),
  maxSessions: z.number().int().min(1),
  allowResourceLimits: z.boolean(),
  defaults: limits,
  ceilings: limits,
  maxTtl: z.number().int().min(60),
  maxFileBytes: z.number().int().min(1),
  /**
   * Executions running at once (foreground ones, and background ones while they start), per
   * session and per account across every node; more wait in the account's own line.
   */
  runningExecutions: z.object({ perSession: z.number().int().min(1), perAccount: z.number().int().min(1) }),
  /** Egress: the default level, whether sessions may ask for another policy, the ports (core/network-policy.ts). */
  network: planNetworkSchema,
  /** Named snapshots an account keeps at most. */
  maxSnapshots: z.number().int().min(0),
  /** Disk the account's named snapshots may take in all (their allocated blocks), MB. */
  snapshotStorageMb: z.number().int().min(0),
});

const plans = z.object({ free: planSchema, paid: planSchema, enterprise: planSchema });

export type PlanName = keyof z.infer<typeof plans>;
export type Plan = Readonly<z.infer<typeof planSchema>>;
export type Plans = Readonly<Record<PlanName, Plan>>;
export const PLAN_NAMES: readonly PlanName[] = ['free', 'paid', 'enterprise'];

export function isPlanName(value: unknown): value is PlanName {
  return typeof value === 'string' && (PLAN_NAMES as readonly string[]).includes(value);
}

/** Loads and validates the plans file; defaults above ceilings are refused. */
export function loadPlans(file: string): Plans {
  const parsed = plans.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid plans file ${file}:\n${lines.join('\n')}`);
  }
  for (const name of PLAN_NAMES) {
    const p = parsed.data[name];
    for (const k of ['memory', 'cpu', 'timeout', 'disk'] as const) {
      if (p.defaults[k] > p.ceilings[k]) throw new Error(`plan ${name}: default ${k} above its ceiling`);
    }
    if (p.runningExecutions.perSession > p.runningExecutions.perAccount) {
      throw new Error(`plan ${name}: runningExecutions.perSession above perAccount`);
    }
  }
  return Object.freeze(parsed.data);
}
