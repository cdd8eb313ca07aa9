import { AccountStore } from '../core/accounts.ts';
import { loadConfig } from '../core/config.ts';
import { BuntimeError } from '../core/errors.ts';
import { createRedis, Keys } from '../core/redis.ts';

const USAGE = `usage: buntime-admin <command>
  account create NAME --plan free|paid|enterprise
  account set-plan NAME PLAN
  account list
  keys create --account NAME [--label L] [--json]
  keys list --account NAME
  keys revoke KEY_ID`;

type Args = { positional: string[]; flags: Map<string, string | true> };

function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) flags.set(a.slice(2), true);
    else { flags.set(a.slice(2), next); i++; }
  }
  return { positional, flags };
}

function flag(args: Args, name: string): string {
  const v = args.flags.get(name);
  if (typeof v !== 'string') throw new BuntimeError('invalid_request', `--${name} VALUE is required`);
  return v;
}

async function run(store: AccountStore, args: Args): Promise<string> {
  const [group, cmd, arg1, arg2] = args.positional;
  const json = args.flags.has('json');
  switch (`${group} ${cmd}`) {
    case 'account create': {
      const acc = await store.createAccount(arg1 ?? '', flag(args, 'plan'));
      return json ? JSON.stringify(acc) : `account ${acc.name} created on plan ${acc.plan}`;
    }
    case 'account set-plan': {
      const acc = await store.setPlan(arg1 ?? '', arg2 ?? '');
      return json ? JSON.stringify(acc) : `account ${acc.name} is now on plan ${acc.plan}`;
    }
    case 'account list':
      return (await store.listAccounts()).map((a) => `${a.name}\t${a.plan}\t${a.createdAt}`).join('\n');
    case 'keys create': {
      const { key, info, plan } = await store.createKey(flag(args, 'account'), (args.flags.get('label') as string) || '');
      if (json) return JSON.stringify({ id: info.id, key, account: info.account, plan });
      return `key ${info.id} for ${info.account} (${plan}) — shown once, store it now:\n${key}`;
    }
    case 'keys list': {
      const keys = await store.listKeys(flag(args, 'account'));
      if (json) return JSON.stringify(keys);
      return keys.map((k) => `${k.id}\t${k.label || '-'}\t${k.createdAt}\t${k.revokedAt ? `revoked ${k.revokedAt}` : 'active'}`).join('\n');
    }
    case 'keys revoke': {
      const info = await store.revokeKey(arg1 ?? '');
      return json ? JSON.stringify(info) : `key ${info.id} revoked at ${info.revokedAt}`;
    }
    default:
      throw new BuntimeError('invalid_request', USAGE);
  }
}

const cfg = loadConfig();
const redis = createRedis(cfg.REDIS_URL, { maxRetriesPerRequest: 1 });
try {
  const out = await run(new AccountStore(redis, new Keys(cfg.REDIS_PREFIX)), parseArgs(process.argv.slice(2)));
  if (out) console.log(out);
} catch (err) {
  console.error(err instanceof BuntimeError ? err.message : String(err));
  process.exitCode = err instanceof BuntimeError && err.code === 'invalid_request' ? 2 : 1;
} finally {
  redis.disconnect();
}
