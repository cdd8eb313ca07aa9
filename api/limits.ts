import { BuntimeError } from '../core/errors.ts';
import type { Plan } from '../core/plans.ts';
import type { ResourceLimits } from '../core/schemas.ts';
import type { CreateSessionBody } from './validation.ts';

/** The limits a new session gets: the plan's defaults overridden by what the caller asked, within ceilings. */
export function sessionLimits(plan: Plan, planName: string, body: CreateSessionBody): ResourceLimits {
  const asked = body.resourceLimits;
  if (asked && Object.keys(asked).length > 0 && !plan.allowResourceLimits) {
    throw new BuntimeError('forbidden', `the ${planName} plan does not allow resourceLimits`, {
      details: { plan: planName, field: 'resourceLimits' },
    });
  }
  const limits: ResourceLimits = { ...plan.defaults, ...stripUndefined(asked ?? {}) };
  for (const k of ['memory', 'cpu', 'timeout', 'disk'] as const) {
    if (limits[k] > plan.ceilings[k]) {
      throw new BuntimeError('invalid_request', `resourceLimits.${k} above the plan ceiling of ${plan.ceilings[k]}`, {
        details: { field: `resourceLimits.${k}`, max: plan.ceilings[k] },
      });
    }
  }
  return limits;
}

/** Session time to live, seconds, checked against the plan. */
export function sessionTtl(plan: Plan, body: CreateSessionBody): number {
  const ttl = body.ttl ?? Math.min(86_400, plan.maxTtl);
  if (ttl > plan.maxTtl) {
    throw new BuntimeError('invalid_request', `ttl above the plan maximum of ${plan.maxTtl} s`, {
      details: { field: 'ttl', max: plan.maxTtl },
    });
  }
  return ttl;
}

/** An execution's timeout, seconds: the session's by default, never above the plan's ceiling. */
export function executionTimeout(plan: Plan, session: ResourceLimits, asked: number | undefined): number {
  if (asked === undefined) return session.timeout;
  if (asked > plan.ceilings.timeout) {
    throw new BuntimeError('invalid_request', `timeout above the plan maximum of ${plan.ceilings.timeout} s`, {
      details: { field: 'timeout', max: plan.ceilings.timeout },
    });
  }
  return asked;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
