import type { Buntime, Session } from '@buntime/sdk';

/**
 * Deep sleep, wake and fork through the whole service. Wake: a request to a deep-sleeping
 * session (its container gone, its workspace unmounted) until the program has run in a new
 * container on the same workspace. Fork: `POST /sessions/{id}/fork` of a session holding data,
 * with a writer in the source timing its own writes meanwhile.
 */

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function untilDeepSleep(client: Buntime, sessionId: string, maxMs = 60_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while ((await client.sessions.list({ limit: 1000 })).sessions.find((s) => s.sessionId === sessionId)?.state !== 'deep-sleep') {
    if (Date.now() > deadline) throw new Error(`${sessionId} did not go to deep sleep`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Median wake time of a session holding `sizeMb` MB, over `rounds` sleeps (needs a service whose
 * IDLE_AFTER and SLEEP_AFTER are a few seconds).
 */
export async function benchWake(client: Buntime, sizeMb: number, rounds = 5): Promise<number> {
  const s = await client.sessions.create();
  try {
    const w = await s.execute({ command: `head -c ${sizeMb * 1024 * 1024} /dev/urandom > data && sha256sum data > data.sum`, timeout: 120 });
    if (w.exitCode !== 0) throw new Error(w.stderr);
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      await untilDeepSleep(client, s.id);
      times.push(await timed(() => s.execute({ command: 'true' })));
    }
    const check = await s.execute({ command: 'sha256sum -c data.sum', timeout: 60 });
    if (check.exitCode !== 0) throw new Error('the workspace changed across deep sleep');
    return median(times);
  } finally {
    await s.delete().catch(() => {});
  }
}

export interface ForkFigures {
  sourceMb: number;
  forkMs: number;
  /** Longest a 4 KB write + fsync in the source took while the forks ran, ms. */
  sourceWriteMaxMs: number;
  /** Median of that writer's writes, ms. */
  sourceWriteP50Ms: number;
}

// Writes 4 KB and fsyncs it in a loop for `seconds`, then records the latencies it saw.
const WRITER = (seconds: number) => `
const fs = require('node:fs');
const lat = []; const buf = Buffer.alloc(4096, 1); const end = Date.now() + ${seconds * 1000};
while (Date.now() < end) {
  const t = performance.now();
  const fd = fs.openSync('w.tmp', 'w'); fs.writeSync(fd, buf); fs.fsyncSync(fd); fs.closeSync(fd);
  lat.push(performance.now() - t);
  await Bun.sleep(5);
}
lat.sort((a, b) => a - b);
fs.writeFileSync('writer.json', JSON.stringify({ max: lat[lat.length - 1], p50: lat[Math.floor(lat.length / 2)] }));
`;

/** Median time of `rounds` forks of a session holding `sourceMb` MB, and what a writer in the source saw. */
export async function benchFork(client: Buntime, sourceMb: number, rounds = 3): Promise<ForkFigures> {
  const src = await client.sessions.create();
  const forks: Session[] = [];
  try {
    const w = await src.execute({ command: `head -c ${sourceMb * 1024 * 1024} /dev/urandom > data && sync`, timeout: 120 });
    if (w.exitCode !== 0) throw new Error(w.stderr);
    await client.files.write(src.id, 'writer.ts', WRITER(rounds * 3 + 4));
    await src.spawn({ command: 'bun run writer.ts' });
    await new Promise((r) => setTimeout(r, 1_000));
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      times.push(await timed(async () => { forks.push(await client.sessions.fork(src.id)); }));
      await new Promise((r) => setTimeout(r, 500));
    }
    let writer = '';
    for (let i = 0; i < 300 && !writer; i++) {
      writer = await client.files.readText(src.id, 'writer.json').catch(() => '');
      if (!writer) await new Promise((r) => setTimeout(r, 100));
    }
    const seen = JSON.parse(writer) as { max: number; p50: number };
    return { sourceMb, forkMs: median(times), sourceWriteMaxMs: seen.max, sourceWriteP50Ms: seen.p50 };
  } finally {
    for (const f of forks) await f.delete().catch(() => {});
    await src.delete().catch(() => {});
  }
}
