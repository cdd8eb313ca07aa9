import type { Redis } from 'ioredis';
import { signAdminToken } from '../core/admin-token.ts';
import { AccountStore, type KeyInfo } from '../core/accounts.ts';
import type { Config } from '../core/config.ts';
import { EgressLog } from '../core/egress-log.ts';
import { BuntimeError } from '../core/errors.ts';
import { loadPlans } from '../core/plans.ts';
import { Keys } from '../core/redis.ts';
import { usageReport, UsageStore, type DayUsage, type UsageReport } from '../core/usage.ts';
import { flag, intFlag, type Args } from './args.ts';
import { webhooks } from './webhook-commands.ts';

export const USAGE = `usage: buntime-admin <command> [--json]
  account create NAME --plan free|paid|enterprise
  account set-plan NAME PLAN
  account list
  keys create --account NAME [--label L]
  keys list --account NAME
  keys revoke KEY_ID
  usage --account NAME [--days N]
  webhooks create --account NAME --url URL --events E1,E2 [--secret S]
  webhooks list --account NAME
  webhooks delete WEBHOOK_ID
  webhooks deliveries WEBHOOK_ID [--limit N]
  token [--ttl SECONDS]            (needs ADMIN_JWT_SECRET; default ttl 3600)`;

/** What commands need: the configuration and, only when they touch it, Redis. */
export interface CliEnv {
  cfg: Config;
  redis: () => Redis;
}

/** Runs one command and returns what to print. Keys are printed only by `keys create`. */
export async function run(args: Args, env: CliEnv): Promise<string> {
  const [group, cmd] = args.positional;
  const json = args.flags.has('json');
  if (group === 'token') return token(args, env.cfg, json);
  if (group === 'usage') return usage(args, env, json);
  if (group === 'webhooks') return webhooks(cmd, args, env, json);
  const store = new AccountStore(env.redis(), new Keys(env.cfg.REDIS_PREFIX));
  if (group === 'account') return account(cmd, args, store, json);
  if (group === 'keys') return keys(cmd, args, store, json);
  throw new BuntimeError('invalid_request', USAGE);
}

async function account(cmd: string | undefined, args: Args, store: AccountStore, json: boolean): Promise<string> {
  const [, , name = '', plan = ''] = args.positional;
  if (cmd === 'create') {
    const acc = await store.createAccount(name, flag(args, 'plan'));
    return json ? JSON.stringify(acc) : `account ${acc.name} created on plan ${acc.plan}`;
  }
  if (cmd === 'set-plan') {
    const acc = await store.setPlan(name, plan);
    return json ? JSON.stringify(acc) : `account ${acc.name} is now on plan ${acc.plan}`;
  }
  if (cmd === 'list') {
    const all = await store.listAccounts();
    return json ? JSON.stringify(all) : all.map((a) => `${a.name}\t${a.plan}\t${a.createdAt}`).join('\n');
  }
  throw new BuntimeError('invalid_request', USAGE);
}

async function keys(cmd: string | undefined, args: Args, store: AccountStore, json: boolean): Promise<string> {
  if (cmd === 'create') {
    const label = args.flags.get('label');
    const { key, info, plan } = await store.createKey(flag(args, 'account'), typeof label === 'string' ? label : '');
    if (json) return JSON.stringify({ id: info.id, key, account: info.account, plan });
    return `key ${info.id} for ${info.account} (${plan}) — shown once, store it now:\n${key}`;
  }
  if (cmd === 'list') {
    const list = await store.listKeys(flag(args, 'account'));
    return json ? JSON.stringify(list) : list.map(keyLine).join('\n');
  }
  if (cmd === 'revoke') {
    const info = await store.revokeKey(args.positional[2] ?? '');
    return json ? JSON.stringify(info) : `key ${info.id} revoked at ${info.revokedAt}`;
  }
  throw new BuntimeError('invalid_request', USAGE);
}

async function usage(args: Args, env: CliEnv, json: boolean): Promise<string> {
  const redis = env.redis();
  const keys = new Keys(env.cfg.REDIS_PREFIX);
  const deps = {
    accounts: new AccountStore(redis, keys), usage: new UsageStore(redis, keys), plans: loadPlans(env.cfg.PLANS_FILE), egress: new EgressLog(redis, keys),
  };
  const report = await usageReport(deps, flag(args, 'account'), intFlag(args, 'days', 30));
  return json ? JSON.stringify(report) : usageText(report);
}

function token(args: Args, cfg: Config, json: boolean): string {
  if (!cfg.ADMIN_JWT_SECRET) throw new BuntimeError('invalid_request', 'ADMIN_JWT_SECRET is not set: the same secret as the API is needed');
  // Never longer than the API accepts (ADMIN_TOKEN_MAX_TTL): such a token would only be refused.
  const t = signAdminToken(cfg.ADMIN_JWT_SECRET, intFlag(args, 'ttl', 3600), cfg.ADMIN_TOKEN_MAX_TTL);
  return json ? JSON.stringify(t) : t.token;
}

function keyLine(k: KeyInfo): string {
  const state = k.revokedAt ? `revoked ${k.revokedAt}` : 'active';
  return `${k.id}\t${k.label || '-'}\t${k.createdAt}\tlast used ${k.lastUsedAt ?? 'never'}\t${state}`;
}

function usageText(r: UsageReport): string {
  const head = `account ${r.account} (${r.plan}): ${r.limits.requestsPerMinute} requests/min/key, ${r.limits.maxSessions} sessions`;
  const rows = (days: Array<DayUsage & { egressBytes?: number }>) => days.map((d) =>
    `  ${d.date}\t${d.requests} requests\t${d.executions} executions\t${d.cpuMs} cpu ms\t${d.sessionSeconds} session s`
    + (d.egressBytes === undefined ? '' : `\t${d.egressBytes} egress bytes`));
  const keys = r.keys.map((k) => [`key ${k.id} (${k.label || '-'})${k.revokedAt ? ' revoked' : ''}`, ...rows(k.days)].join('\n'));
  return [head, 'total', ...(r.days.length ? rows(r.days) : ['  no usage']), ...keys].join('\n');
}
