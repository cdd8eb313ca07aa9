import { z } from 'zod';
import { BuntimeError } from './errors.ts';

/**
 * Egress policy of a session: what its programs may reach through the runner's policy proxy.
 *
 * - `none`: nothing.
 * - `public`: any name or address that is not refused by the address classes (loopback,
 *   private, link-local, …), minus the `deny` list.
 * - `allowlist`: only names matching an `allow` entry, minus the `deny` list (deny wins).
 *
 * List entries are lower-case domain names (`example.org`: that name exactly) or globs
 * (`*.example.org`: any name below it, at any depth, but NOT `example.org` itself — list both to
 * allow both). IP literals are not list entries: under `allowlist` they are never reachable.
 */
export const EGRESS_LEVELS = ['none', 'public', 'allowlist'] as const;
export type EgressLevel = (typeof EGRESS_LEVELS)[number];

/** Entries per `allow` / `deny` list at most. */
export const MAX_POLICY_ENTRIES = 100;

/** The policy the proxy applies to one session; see {@link effectivePolicy}. */
export interface EgressPolicy {
  readonly egress: EgressLevel;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  /** TCP ports a request may name (internal hosts excepted). */
  readonly ports: readonly number[];
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * True for a lower-case DNS name of one or more labels (letters, digits, inner hyphens; IDNs in
 * their `xn--` form) whose last label is not all digits, so that no IPv4 literal passes.
 */
export function isDomainName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (!labels.every((l) => LABEL.test(l))) return false;
  return !/^\d+$/.test(labels[labels.length - 1]!);
}

/** True for a domain name or a `*.` glob of one (see {@link EGRESS_LEVELS}). */
export function isDomainPattern(entry: string): boolean {
  return isDomainName(entry.startsWith('*.') ? entry.slice(2) : entry);
}

const patternList = z
  .array(
    z.string().trim().toLowerCase().refine(isDomainPattern, {
      message: 'must be a domain name or a "*." glob of one (e.g. "example.org", "*.example.org")',
    }),
  )
  .max(MAX_POLICY_ENTRIES);

/**
 * The `network` field of `POST /sessions/create`. Embedded under `network` in the request
 * schema, its issues carry paths such as `network.allow.3` for `details.field`.
 */
export const networkRequestSchema = z
  .strictObject({
    egress: z.enum(EGRESS_LEVELS),
    allow: patternList.optional(),
    deny: patternList.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.egress !== 'allowlist' && v.allow !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['allow'], message: 'allow is only meaningful with egress "allowlist"' });
    }
    if (v.egress === 'allowlist' && (v.allow?.length ?? 0) === 0) {
      ctx.addIssue({ code: 'custom', path: ['allow'], message: 'egress "allowlist" needs at least one allow entry' });
    }
  });

export type NetworkRequest = z.infer<typeof networkRequestSchema>;

/** An effective policy as it travels in a create job and is stored in a session record. */
export const egressPolicySchema = z.object({
  egress: z.enum(EGRESS_LEVELS),
  allow: z.array(z.string()).max(MAX_POLICY_ENTRIES).readonly(),
  deny: z.array(z.string()).max(MAX_POLICY_ENTRIES).readonly(),
  ports: z.array(z.number().int().min(1).max(65535)).max(64).readonly(),
});

/** No egress at all. */
export const NO_EGRESS: EgressPolicy = freeze({ egress: 'none', allow: [], deny: [], ports: [] });

/** Reads a stored policy (JSON); anything unreadable is {@link NO_EGRESS}: a bad record never widens egress. */
export function parseStoredPolicy(json: string): EgressPolicy {
  try {
    const parsed = egressPolicySchema.safeParse(JSON.parse(json));
    return parsed.success ? freeze(parsed.data) : NO_EGRESS;
  } catch {
    return NO_EGRESS;
  }
}

/**
 * The policy with `names` allowed too when it is an allowlist (e.g. the host of
 * `NPM_REGISTRY_URL`, so that packages install under any allowlist). `none` and `public`
 * policies, and names that are not domain names (IP literals), are left as they are; the deny
 * list still wins.
 */
export function allowImplicitly(policy: EgressPolicy, names: readonly string[]): EgressPolicy {
  const extra = names.map((n) => n.toLowerCase()).filter((n) => isDomainName(n) && !policy.allow.includes(n));
  if (policy.egress !== 'allowlist' || extra.length === 0) return policy;
  return freeze({ ...policy, allow: [...policy.allow, ...extra] });
}

/** Default of a plan without a `network` section: public egress, no custom policy, web ports. */
export const DEFAULT_PLAN_NETWORK: PlanNetwork = Object.freeze({
  default: 'public',
  allowCustom: false,
  ports: Object.freeze([80, 443]),
});

/** The `network` section of a plan in `config/plans.json`. */
export const planNetworkSchema = z
  .strictObject({
    default: z.enum(['public', 'none']),
    allowCustom: z.boolean(),
    ports: z.array(z.number().int().min(1).max(65535)).min(1).max(64),
  })
  .default({ ...DEFAULT_PLAN_NETWORK, ports: [...DEFAULT_PLAN_NETWORK.ports] });

/** A plan's network section: its default level, whether sessions may ask for another, its ports. */
export interface PlanNetwork {
  readonly default: 'public' | 'none';
  readonly allowCustom: boolean;
  readonly ports: readonly number[];
}

/**
 * The policy a session gets from its plan and what its create request asked for.
 * `egress: "none"` is always granted (narrowing is not a privilege); any other request that
 * differs from the plan's default, or brings an allow/deny list, needs `allowCustom`.
 *
 * @throws BuntimeError `forbidden` (details.field `network`) when the plan does not allow it
 */
export function effectivePolicy(plan: PlanNetwork, requested?: NetworkRequest): EgressPolicy {
  const ports = Object.freeze([...plan.ports]);
  if (!requested) return freeze({ egress: plan.default, allow: [], deny: [], ports });
  if (requested.egress === 'none') return freeze({ egress: 'none', allow: [], deny: [], ports });
  const custom = requested.egress !== plan.default || (requested.allow?.length ?? 0) > 0 || (requested.deny?.length ?? 0) > 0;
  if (custom && !plan.allowCustom) {
    throw new BuntimeError('forbidden', 'this plan does not allow a custom network policy', {
      details: { field: 'network', default: plan.default },
    });
  }
  return freeze({ egress: requested.egress, allow: unique(requested.allow), deny: unique(requested.deny), ports });
}

function unique(list: readonly string[] | undefined): readonly string[] {
  return Object.freeze([...new Set(list ?? [])]);
}

function freeze(p: EgressPolicy): EgressPolicy {
  return Object.freeze({ ...p, allow: Object.freeze([...p.allow]), deny: Object.freeze([...p.deny]) });
}
