import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Buntime } from '@buntime/sdk';
import { startApi } from '../api/main.ts';
import { AccountStore } from '../core/accounts.ts';
import { createRedis, Keys } from '../core/redis.ts';
import { startRunner } from '../runner/main.ts';

/**
 * `npm run bench`: the hot path next to its baseline, measured in the same run on this machine.
 * Baseline: a bare `bun -e 'console.log(1)'` spawned on the host. Then, through HTTP and the
 * whole service: trivial execute p50/p99, executes/s with 16 sessions in parallel, session create.
 */
const BUN = ['node_modules/bun/bin/bun.exe', 'node_modules/@oven/bun-linux-x64/bin/bun'].find((p) => existsSync(p))!;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function timed<T>(fn: () => Promise<T>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function bareSpawn(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    spawnSync(BUN, ['-e', 'console.log(1)']);
    out.push(performance.now() - t);
  }
  return out;
}

const run = randomBytes(4).toString('hex');
const env = { ...process.env, REDIS_PREFIX: `btbench-${run}`, NODE_ID: `bench-${run}`, PORT: '0', LOG_LEVEL: 'warn' };
const runner = await startRunner(env);
const api = await startApi(env);
const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6399');
const accounts = new AccountStore(redis, new Keys(env.REDIS_PREFIX));
await accounts.createAccount('bench', 'enterprise');
const { key } = await accounts.createKey('bench');
const client = new Buntime({ apiKey: key, baseUrl: api.url, maxRetries: 0 });
const limits = { memory: 512, cpu: 1, timeout: 30, disk: 256 };

try {
  bareSpawn(5);
  const bare = bareSpawn(50);

  const createTimes: number[] = [];
  const sessions: string[] = [];
  for (let i = 0; i < 16; i++) {
    let id = '';
    createTimes.push(await timed(async () => { id = (await client.sessions.create({ resourceLimits: limits })).id; }));
    sessions.push(id);
  }

  const first = sessions[0]!;
  for (let i = 0; i < 10; i++) await client.execute({ sessionId: first, code: 'console.log(1)' });
  const exec: number[] = [];
  for (let i = 0; i < 200; i++) exec.push(await timed(() => client.execute({ sessionId: first, code: 'console.log(1)' })));

  const windowMs = 10_000;
  let done = 0;
  const until = performance.now() + windowMs;
  const started = performance.now();
  await Promise.all(sessions.map(async (sessionId) => {
    while (performance.now() < until) {
      const r = await client.execute({ sessionId, code: 'console.log(1)' });
      if (r.stdout === '1\n') done++;
    }
  }));
  const perSec = done / ((performance.now() - started) / 1000);

  const b50 = pct(bare, 50);
  const e50 = pct(exec, 50);
  const rows: Array<[string, string, string]> = [
    ['bare `bun -e` spawn on the host, p50 (baseline)', `${b50.toFixed(1)} ms`, ''],
    ['trivial POST /execute over HTTP, p50', `${e50.toFixed(1)} ms`, `${(e50 / b50).toFixed(2)}× baseline (target ≤ 3×)`],
    ['trivial POST /execute over HTTP, p99', `${pct(exec, 99).toFixed(1)} ms`, `${(pct(exec, 99) / b50).toFixed(2)}× baseline`],
    ['executes/s, 16 sessions in parallel', perSec.toFixed(0), `target ≥ 150; baseline bound ${(2000 / b50).toFixed(0)}/s (2 cores / bare spawn)`],
    ['POST /sessions/create, p50', `${pct(createTimes, 50).toFixed(0)} ms`, `p99 ${pct(createTimes, 99).toFixed(0)} ms`],
  ];
  console.log(`\nBuntime bench (${new Date().toISOString()}, ${process.arch}, bun ${spawnSync(BUN, ['--version']).stdout.toString().trim()})\n`);
  for (const [name, value, note] of rows) console.log(`${name.padEnd(52)} ${value.padStart(10)}   ${note}`);
  console.log('');
  await Promise.all(sessions.map((id) => client.sessions.delete(id)));
} finally {
  await api.stop();
  await runner.stop();
  redis.disconnect();
}
