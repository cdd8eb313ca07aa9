import { Buntime } from '@buntime/sdk';
import type { AccountStore } from '../core/accounts.ts';
import { ExecSlots } from '../core/exec-slots.ts';

/**
 * Fair scheduling under a hostile neighbour, for `npm run bench`: account B's trivial executes
 * (p50/p95 over HTTP, paced; a paid account, for its rate limit) on an idle service, then while
 * account A (free plan) keeps 64 `sleep 20` executes in flight over 10 sessions — 8 running,
 * the rest in A's own line.
 */
export interface FairnessBenchOptions {
  baseUrl: string;
  accounts: AccountStore;
  slots: ExecSlots;
}

type Row = [string, string, string];

const SAMPLES = 60;
const PACE_MS = 100;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function account(o: FairnessBenchOptions, name: string, plan: 'free' | 'paid', keys: number): Promise<Buntime[]> {
  await o.accounts.createAccount(name, plan);
  const clients: Buntime[] = [];
  for (let i = 0; i < keys; i++) {
    const { key } = await o.accounts.createKey(name, `k${i}`);
    clients.push(new Buntime({ apiKey: key, baseUrl: o.baseUrl, maxRetries: 0 }));
  }
  return clients;
}

/** B's paced executes, ms each. */
async function sample(b: Buntime, sessionId: string, n = SAMPLES): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await b.execute({ sessionId, code: 'console.log(1)' });
    out.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, PACE_MS));
  }
  return out;
}

/** A's 64 callers, each keeping one `sleep 20` in flight until `stop()`. */
function load(a: Buntime[], sessions: string[]) {
  let stopped = false;
  const callers = Array.from({ length: 64 }, async (_, i) => {
    while (!stopped) {
      await a[i % a.length]!.execute({ sessionId: sessions[i % sessions.length]!, command: 'sleep 20', timeout: 25 }).catch(() => {});
    }
  });
  return { stop: async () => { stopped = true; await Promise.all(callers); } };
}

async function timedMs(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function benchFairness(o: FairnessBenchOptions): Promise<Row[]> {
  const tag = Math.random().toString(36).slice(2, 8);
  const a = await account(o, `bench-a-${tag}`, 'free', 6);
  const [b] = await account(o, `bench-b-${tag}`, 'paid', 1);
  const aSessions: string[] = [];
  for (let i = 0; i < 10; i++) aSessions.push((await a[0]!.sessions.create()).id);
  const bSession = (await b!.sessions.create()).id;
  try {
    await sample(b!, bSession, 5);
    const idle = await sample(b!, bSession);
    const hostile = load(a, aSessions);
    let loaded: number[] = [];
    let other: number[] = [];
    try {
      for (let i = 0; i < 100 && (await o.slots.counts(`bench-a-${tag}`)).waiting < 50; i++) await new Promise((r) => setTimeout(r, 100));
      loaded = await sample(b!, bSession);
      other = [await timedMs(() => b!.files.list(bSession)), await timedMs(() => b!.sessions.get(bSession))];
    } finally {
      await Promise.all(aSessions.map((id) => a[0]!.sessions.delete(id).catch(() => {})));
      await hostile.stop();
    }
    const fmt = (xs: number[]) => `${pct(xs, 50).toFixed(1)} ms`;
    return [
      ['B trivial execute, idle service, p50', fmt(idle), `p95 ${pct(idle, 95).toFixed(1)} ms`],
      ['B trivial execute, A holding 64 in flight, p50', fmt(loaded), `p95 ${pct(loaded, 95).toFixed(1)} ms (target p95 ≤ 1000 ms)`],
      ['B files/list and GET /sessions/{id} under A\'s load', `${other.map((x) => x.toFixed(0)).join(' / ')} ms`, ''],
    ];
  } finally {
    await b!.sessions.delete(bSession).catch(() => {});
  }
}
