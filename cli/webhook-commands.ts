import { AccountStore } from '../core/accounts.ts';
import { BuntimeError } from '../core/errors.ts';
import { Keys } from '../core/redis.ts';
import {
  TargetChecker, webhookInputSchema, webhookResolver, Webhooks, WebhookStore, type DeliveryAttempt, type WebhookView,
} from '../core/webhooks/index.ts';
import { flag, intFlag, type Args } from './args.ts';
import type { CliEnv } from './commands.ts';

/**
 * `webhooks create|list|delete|deliveries`: an account's webhooks straight in Redis, with the
 * API's checks (the URL against the address policy, with this process's `EGRESS_RESOLVER` and
 * `WEBHOOK_INTERNAL_HOSTS`). The secret is printed by `create` only.
 */
export async function webhooks(cmd: string | undefined, args: Args, env: CliEnv, json: boolean): Promise<string> {
  const keys = new Keys(env.cfg.REDIS_PREFIX);
  const redis = env.redis();
  const service = new Webhooks({
    store: new WebhookStore(redis, keys), accounts: new AccountStore(redis, keys),
    checker: new TargetChecker(webhookResolver(env.cfg), env.cfg.WEBHOOK_INTERNAL_HOSTS),
  });
  const id = args.positional[2] ?? '';
  if (cmd === 'create') return create(service, args, json);
  if (cmd === 'list') {
    const list = await service.list(flag(args, 'account'));
    return json ? JSON.stringify(list) : list.map(line).join('\n');
  }
  if (cmd === 'delete') {
    const out = await service.remove(id);
    return json ? JSON.stringify(out) : `webhook ${out.id} deleted`;
  }
  if (cmd === 'deliveries') {
    const list = await service.deliveries(id, undefined, intFlag(args, 'limit', 50));
    return json ? JSON.stringify(list) : list.map(attemptLine).join('\n');
  }
  throw new BuntimeError('invalid_request', 'usage: webhooks create|list|delete|deliveries');
}

async function create(service: Webhooks, args: Args, json: boolean): Promise<string> {
  const secret = args.flags.get('secret');
  const parsed = webhookInputSchema.safeParse({
    url: flag(args, 'url'), events: flag(args, 'events').split(',').map((e) => e.trim()).filter(Boolean),
    ...(typeof secret === 'string' ? { secret } : {}),
  });
  if (!parsed.success) throw new BuntimeError('invalid_request', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const hook = await service.register(flag(args, 'account'), parsed.data);
  if (json) return JSON.stringify(hook);
  return `webhook ${hook.id} → ${hook.url} (${hook.events.join(', ')}) — signing secret, shown once:\n${hook.secret}`;
}

function line(w: WebhookView): string {
  return `${w.id}\t${w.url}\t${w.events.join(',')}\t${w.createdAt}`;
}

function attemptLine(a: DeliveryAttempt): string {
  const result = a.ok ? `ok ${a.statusCode}` : `failed ${a.error}`;
  return `${a.at}\t${a.event}\t${a.eventId}\tattempt ${a.attempt}\t${result}\t${a.durationMs} ms${a.nextAttemptAt ? `\tnext ${a.nextAttemptAt}` : ''}`;
}
