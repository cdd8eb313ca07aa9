import { randomBytes } from 'node:crypto';
import { startApi } from '../api/main.ts';
import { AccountStore } from '../core/accounts.ts';
import { loadConfig } from '../core/config.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { startRunner } from '../runner/main.ts';

/**
 * `npm start`: one runner (this machine's Docker engine) and the API in one process, plus a
 * fresh API key for the `dev` account, printed once.
 */
// Without ADMIN_JWT_SECRET the admin API would be closed; a random one (never printed) opens
// it with a secret nobody can guess. Set ADMIN_JWT_SECRET yourself to mint admin tokens.
const adminSecretGenerated = !process.env.ADMIN_JWT_SECRET;
process.env.ADMIN_JWT_SECRET ||= randomBytes(32).toString('base64url');
const cfg = loadConfig();
const runner = await startRunner();
const api = await startApi();

const redis = createRedis(cfg.REDIS_URL);
const accounts = new AccountStore(redis, new Keys(cfg.REDIS_PREFIX));
if (!(await accounts.getAccount('dev'))) await accounts.createAccount('dev', 'free');
const { key } = await accounts.createKey('dev', `npm start ${new Date().toISOString()}`);
redis.disconnect();

process.stdout.write(`
Buntime is up on ${api.url}  (node ${runner.nodeId})
Dev API key (account "dev", free plan; shown once):

  ${key}

Try:
  curl -s -X POST ${api.url}/sessions/create -H "Authorization: Bearer ${key}"
  curl -s -X POST ${api.url}/execute -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \\
    -d '{"sessionId":"<sessionId>","code":"console.log(\\"Sum:\\", [1,2,3,4,5].reduce((a,b)=>a+b,0))"}'

Admin API (/admin/*): ${adminSecretGenerated
    ? 'on, with a random secret of this process. To mint admin tokens, start with ADMIN_JWT_SECRET set\n  and run: ADMIN_JWT_SECRET=... npm run admin -- token'
    : 'on; mint a token with: npm run admin -- token (same ADMIN_JWT_SECRET)'}

`);

const shutdown = async () => {
  await api.stop();
  await runner.stop();
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
